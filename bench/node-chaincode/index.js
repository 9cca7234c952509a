'use strict';
// The Node arm of `qcchain bench fabric-chaincode`: the same put/get/event behaviour as
// qcchain_bench.example's KVContract and bench/go-chaincode, on the official fabric-shim (raw
// ChaincodeInterface, as the Go arm), served as chaincode-as-a-service.
// Env: CHAINCODE_ID (package id), CHAINCODE_SERVER_ADDRESS (host:port).
const shim = require('fabric-shim');

class KV {
    async Init() {
        return shim.success();
    }

    async Invoke(stub) {
        const { fcn, params } = stub.getFunctionAndParameters();
        if (fcn === 'kv:put' || fcn === 'put') {
            if (params.length !== 2) {
                return shim.error('put needs key and value');
            }
            const prev = await stub.getState(params[0]);
            await stub.putState(params[0], Buffer.from(params[1]));
            stub.setEvent('Put', Buffer.from(params[0]));
            return shim.success(Buffer.from(prev && prev.length > 0 ? 'updated' : 'created'));
        }
        if (fcn === 'kv:get' || fcn === 'get') {
            if (params.length !== 1) {
                return shim.error('get needs key');
            }
            const value = await stub.getState(params[0]);
            if (!value || value.length === 0) {
                return { status: 404, message: `key ${params[0]} not found` };
            }
            return shim.success(value);
        }
        return shim.error(`unknown function ${fcn}`);
    }
}

const server = shim.server(new KV(), {
    ccid: process.env.CHAINCODE_ID,
    address: process.env.CHAINCODE_SERVER_ADDRESS,
});
server.start().catch((err) => {
    console.error(`chaincode server: ${err}`);
    process.exit(1);
});
