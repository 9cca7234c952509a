// Smoke test of a Fabric Gateway endpoint (the qcchain devnet, or real Fabric) with the official
// Node client @hyperledger/fabric-gateway: evaluate, submit with two-org endorsement, a chaincode error
// surfacing as an EndorseError, chaincode events received.
//
// Usage: node smoke.mjs CONFIG.json
// CONFIG: {"profile": "<connection profile of org A>", "user": "User1", "channel": "inspection-channel",
//          "chaincode": "qcchain", "endorsers": ["InspectionMSP", "RegulatorMSP"],
//          "put": {"fn": "put", "args": ["<key>", "<value>"]}, "get": {"fn": "get", "args": ["<key>"]},
//          "expect_get": "<value>", "event_name": "put"}
// Prints one JSON line with the results; exit status 0 only if every check passed.

import * as grpc from '@grpc/grpc-js';
import { connect, EndorseError, GatewayError, hash, signers } from '@hyperledger/fabric-gateway';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const utf8 = new TextDecoder();

function loadIdentity(profile, user) {
    const orgName = profile.client.organization;
    const org = profile.organizations[orgName];
    const msp = org.users[user].mspConfigPath;
    const certDir = path.join(msp, 'signcerts');
    const certFile = readdirSync(certDir).find((f) => f.endsWith('.pem'));
    const credentials = readFileSync(path.join(certDir, certFile));
    const key = createPrivateKey(readFileSync(path.join(msp, 'keystore', 'priv_sk')));
    return { identity: { mspId: org.mspid, credentials }, signer: signers.newPrivateKeySigner(key) };
}

function newClient(profile) {
    const peerName = profile.organizations[profile.client.organization].peers[0];
    const peer = profile.peers[peerName];
    const url = new URL(peer.url);
    const target = `${url.hostname}:${url.port}`;
    if (url.protocol === 'grpc:') {
        return new grpc.Client(target, grpc.credentials.createInsecure());
    }
    const creds = grpc.credentials.createSsl(Buffer.from(peer.tlsCACerts.pem));
    return new grpc.Client(target, creds, {
        'grpc.ssl_target_name_override': peer.grpcOptions['ssl-target-name-override'],
    });
}

async function nextEvent(events, txId, timeoutMs) {
    const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('no chaincode event')), timeoutMs));
    const reader = (async () => {
        for await (const event of events) {
            if (event.transactionId === txId) return event;
        }
        throw new Error('event stream ended');
    })();
    return Promise.race([reader, timer]);
}

async function run(cfg) {
    const profile = JSON.parse(readFileSync(cfg.profile, 'utf8'));
    const { identity, signer } = loadIdentity(profile, cfg.user ?? 'User1');
    const client = newClient(profile);
    const gateway = connect({
        client, identity, signer, hash: hash.sha256,
        evaluateOptions: () => ({ deadline: Date.now() + 10000 }),
        endorseOptions: () => ({ deadline: Date.now() + 20000 }),
        submitOptions: () => ({ deadline: Date.now() + 10000 }),
        commitStatusOptions: () => ({ deadline: Date.now() + 30000 }),
    });
    const results = {};
    try {
        const network = gateway.getNetwork(cfg.channel);
        const contract = network.getContract(cfg.chaincode);
        const events = await network.getChaincodeEvents(cfg.chaincode);
        try {
            // submit with two-org endorsement, wait for commit
            const t0 = performance.now();
            const proposal = contract.newProposal(cfg.put.fn, {
                arguments: cfg.put.args, endorsingOrganizations: cfg.endorsers,
            });
            const tx = await proposal.endorse();
            const submitted = await tx.submit();
            const status = await submitted.getStatus();
            results.submit = { ok: status.successful && status.code === 0, code: status.code,
                               block: status.blockNumber.toString(), ms: performance.now() - t0,
                               txId: submitted.getTransactionId() };
            // evaluate reads what was committed
            const got = utf8.decode(await contract.evaluateTransaction(cfg.get.fn, ...cfg.get.args));
            results.evaluate = { ok: cfg.expect_get === undefined || got === cfg.expect_get, value: got };
            // the chaincode event of that transaction reaches the event stream
            const event = await nextEvent(events, submitted.getTransactionId(), 15000);
            results.event = { ok: event.chaincodeName === cfg.chaincode &&
                                  (cfg.event_name === undefined || event.eventName === cfg.event_name),
                              name: event.eventName, block: event.blockNumber.toString() };
        } finally {
            events.close();
        }
        // a chaincode error surfaces as an EndorseError on submit, with per-peer details
        try {
            await contract.submitTransaction('no_such_function_for_smoke_test', 'x');
            results.endorse_error = { ok: false, reason: 'submit of an unknown function succeeded' };
        } catch (err) {
            results.endorse_error = { ok: err instanceof EndorseError && err instanceof GatewayError,
                                      type: err.constructor.name, code: err.code, message: err.message,
                                      details: (err.details ?? []).map((d) => d.message) };
        }
    } finally {
        gateway.close();
        client.close();
    }
    return results;
}

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
try {
    const results = await run(cfg);
    console.log(JSON.stringify(results));
    process.exit(Object.values(results).every((r) => r.ok) ? 0 : 1);
} catch (err) {
    console.log(JSON.stringify({ fatal: { ok: false, type: err.constructor.name, message: err.message,
                                          code: err.code, details: (err.details ?? []).map((d) => d.message) } }));
    process.exit(2);
}
