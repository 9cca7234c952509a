"""The Appendix B client: access token (fetch, cache, refresh), ``syndata`` and batch status, with retries.

The HTTP boundary is :class:`Transport` (``request(method, path, params, body) -> (status, json)``);
:class:`HttpTransport` is the real one (httpx, HTTPS with the ingesting org's CA). Network errors, timeouts
and 5xx answers are retried with exponential backoff and full jitter; after the last try they surface as
:class:`TransportError` (the batch stays in the outbox). The AppSecret and the token are never logged.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import quote

import httpx

from .errors import ServerError, TransportError

log = logging.getLogger(__name__)

__all__ = ["Transport", "HttpTransport", "IngestClient", "Answer", "TOKEN_PATH", "SYNDATA_PATH", "STATUS_PATH",
           "PROOF_PATH"]

TOKEN_PATH = "/jsdspcloud/servlet/token"
SYNDATA_PATH = "/jsdspcloud/servlet/syndata"
STATUS_PATH = "/jsdspcloud/servlet/batch"  # GET STATUS_PATH/<batchNo>?access_token= (acknowledgement)
PROOF_PATH = "/jsdspcloud/servlet/proof"  # GET PROOF_PATH/<record ID>?access_token= (inclusion proof)
TOKEN_MARGIN = 30.0  # refresh this many seconds before the token expires


class Transport(Protocol):
    """One HTTP exchange. Raises TransportError: the server could not be reached or did not answer in time."""

    def request(self, method: str, path: str, params: Mapping[str, str] | None = None,
                body: Any = None) -> tuple[int, Any]: ...


class HttpTransport:
    """:class:`Transport` over httpx (HTTP/1.1, keep-alive, TLS verified against ``ca_file`` when given)."""

    def __init__(self, base_url: str, timeout: float = 30.0, ca_file: Path | None = None) -> None:
        verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True
        self._client = httpx.Client(base_url=base_url, timeout=timeout, verify=verify)

    def request(self, method: str, path: str, params: Mapping[str, str] | None = None,
                body: Any = None) -> tuple[int, Any]:
        """Raises TransportError: connection refused/reset, timeout, TLS failure."""
        try:
            response = self._client.request(method, path, params=params, json=body)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path}: {exc.__class__.__name__}") from None
        try:
            doc = response.json()
        except ValueError:
            doc = None
        return response.status_code, doc

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class Answer:
    """An Appendix B answer: ``rescode`` "1" (success) or "0" (failure), ``msg`` and ``data``."""

    ok: bool
    msg: str
    data: Any
    status: int


class IngestClient:
    """Talks Appendix B to one ingestion server for one appid.

    ``sleep`` and ``clock`` are injectable (tests); ``rng`` gives the jitter.
    """

    def __init__(self, transport: Transport, appid: str, secret: str, *, retries: int = 5, backoff: float = 0.5,
                 backoff_max: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.transport = transport
        self.appid = appid
        self._secret = secret
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._token: str | None = None
        self._token_until = 0.0

    def __repr__(self) -> str:
        return f"IngestClient(appid={self.appid!r})"  # never the secret or the token

    # -- retries --------------------------------------------------------------------------------
    def _exchange(self, method: str, path: str, params: Mapping[str, str] | None = None, body: Any = None) -> Answer:
        """One call with retries on transport errors and 5xx. Raises TransportError / ServerError."""
        attempt = 0
        while True:
            try:
                status, doc = self.transport.request(method, path, params, body)
                if status < 500:
                    return self._answer(status, doc, path)
                problem = f"{path}: HTTP {status}"
            except TransportError as exc:
                problem = str(exc)
            if attempt >= self.retries:
                raise TransportError(f"{problem} (gave up after {attempt + 1} tries)")
            delay = self._rng.uniform(0, min(self.backoff_max, self.backoff * (2 ** attempt)))
            log.info("transient failure (%s); retry %d in %.2fs", problem, attempt + 1, delay)
            self._sleep(delay)
            attempt += 1

    @staticmethod
    def _answer(status: int, doc: Any, path: str) -> Answer:
        if not isinstance(doc, dict) or doc.get("rescode") not in ("0", "1"):
            if status in (401, 403):
                return Answer(False, "unauthorized", None, status)
            raise ServerError(f"{path}: HTTP {status} without an Appendix B answer")
        return Answer(doc["rescode"] == "1", str(doc.get("msg", "")), doc.get("data"), status)

    # -- token ----------------------------------------------------------------------------------
    def token(self, refresh: bool = False) -> str:
        """A valid access token (cached until shortly before it expires).

        Raises:
            ServerError: the appid/secret are refused or the answer has no token.
            TransportError: the server is unreachable after the retries.
        """
        if not refresh and self._token is not None and self._clock() < self._token_until:
            return self._token
        answer = self._exchange("GET", TOKEN_PATH, {"appid": self.appid, "secret": self._secret})
        data = answer.data if isinstance(answer.data, dict) else {}
        token, ttl = data.get("access_token"), data.get("expires_in", 0)
        if not answer.ok or not isinstance(token, str) or not token:
            raise ServerError(f"token refused for appid {self.appid}: {answer.msg or 'no access_token'}")
        self._token = token
        self._token_until = self._clock() + max(0.0, float(ttl) - TOKEN_MARGIN)
        return token

    def _authorized(self, call: Callable[[str], Answer]) -> Answer:
        answer = call(self.token())
        if not answer.ok and _token_problem(answer):
            log.info("access token refused; fetching a new one")
            answer = call(self.token(refresh=True))
        return answer

    # -- calls ----------------------------------------------------------------------------------
    def syndata(self, batch_no: str, txcode: str, bus_type: str, data: list[dict[str, Any]]) -> Answer:
        """POST one batch (the same batchNo on every resend).

        Raises:
            TransportError: not answered after the retries (the batch may or may not be stored).
            ServerError: not an Appendix B answer, or the token cannot be obtained.
        """
        return self._authorized(lambda tok: self._exchange("POST", SYNDATA_PATH, body={
            "access_token": tok, "batchNo": batch_no, "txcode": txcode, "busType": bus_type, "data": data}))

    def batch_status(self, batch_no: str) -> Answer:
        """Ask the server whether ``batch_no`` is stored (``data`` holds its status and receipt).

        Raises:
            TransportError / ServerError: as :meth:`syndata`.
        """
        return self._authorized(lambda tok: self._exchange("GET", f"{STATUS_PATH}/{quote(batch_no, safe='')}",
                                                           {"access_token": tok}))

    def proof(self, record_id: str) -> Answer:
        """The latest anchored version of one of this unit's records with its inclusion proof and receipt
        (``data``: ``{record, proof, receipt}``; not ok with HTTP 404 when no such record is anchored).

        Raises:
            TransportError / ServerError: as :meth:`syndata`.
        """
        return self._authorized(lambda tok: self._exchange("GET", f"{PROOF_PATH}/{quote(record_id, safe='')}",
                                                           {"access_token": tok}))


def _token_problem(answer: Answer) -> bool:
    if answer.status in (401, 403):
        return True
    return not isinstance(answer.data, list) and "token" in answer.msg.lower()
