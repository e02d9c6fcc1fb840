"""Network failures against real sockets: each says what happened and what to check, and exits as documented.

A port nobody listens on, a name under `.invalid`, a TLS server whose certificate nobody signed, and a server that
accepts connections but never answers.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_elt.kognitos.client import KognitosClient
from kognitos_elt.kognitos.errors import ConnectionSetupError, TransportError

ATTEMPTS = 3


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", "secret-token-never-shown")
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", "org1")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", str(ATTEMPTS))


@pytest.fixture
def unused_port() -> Iterator[int]:
    """A loopback port bound, so nobody else takes it, but not listening: connections are refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(16)
        yield listening.getsockname()[1]


@pytest.fixture
def self_signed_port() -> Iterator[int]:
    """A TLS server on loopback whose certificate comes from a CA that nobody trusts."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)  # so that the loop sees `stop`: closing a socket does not wake its accept()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            tls = context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
            with connection, tls, contextlib.suppress(ssl.SSLError, OSError):
                tls.do_handshake()  # the client gives up on the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


def run(base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", base_url)
    code = main(["run"])
    return code, capsys.readouterr().err


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_a_refused_connection_names_the_host_and_port_in_every_warning_and_the_final_message(
    unused_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    code, err = run(f"http://127.0.0.1:{unused_port}", monkeypatch, capsys)

    assert code == ExitCode.UNAVAILABLE
    said = f"connection refused by 127.0.0.1:{unused_port}"
    assert said in err and f"Gave up after {ATTEMPTS} attempt(s)" in err and "SOURCES__KOGNITOS__BASE_URL" in err
    retries = [line for line in warnings(caplog) if line.startswith("Attempt ")]
    assert len(retries) == ATTEMPTS - 1 and all(said in line for line in retries)
    assert "secret-token-never-shown" not in err + "".join(warnings(caplog))


@pytest.mark.parametrize(("answer", "retried"), [
    pytest.param(socket.EAI_NONAME, False, id="no-such-name"),
    pytest.param(socket.EAI_AGAIN, True, id="resolver-temporarily-failing"),
])
def test_a_host_that_does_not_resolve_says_so_and_points_at_base_url(
    answer: int, retried: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The resolver's answer decides whether retrying could help; this machine's own resolver may give either for a
    # missing name (EAI_AGAIN without network), so the test gives each answer itself, for this one name only.
    resolve = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "kognitos.invalid":
            raise socket.gaierror(answer, "resolver says no")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)

    code, err = run("https://kognitos.invalid", monkeypatch, capsys)

    assert "could not resolve host kognitos.invalid" in err and "SOURCES__KOGNITOS__BASE_URL" in err
    attempts = [line for line in warnings(caplog) if line.startswith("Attempt ")]
    if retried:
        assert code == ExitCode.UNAVAILABLE and "temporary DNS failure" in err
        assert len(attempts) == ATTEMPTS - 1
    else:
        assert code == ExitCode.CONFIG and "retrying will not help" in err
        assert attempts == [], "a missing name was retried"


def test_an_untrusted_tls_certificate_is_not_retried_and_says_why(
    self_signed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    code, err = run(f"https://127.0.0.1:{self_signed_port}", monkeypatch, capsys)

    assert code == ExitCode.CONFIG
    assert f"the TLS certificate of 127.0.0.1:{self_signed_port} is not trusted" in err
    assert "Retrying will not help" in err and "SSL_CERT_FILE" in err
    assert not [line for line in warnings(caplog) if line.startswith("Attempt ")]


def test_a_server_that_never_answers_times_out_after_the_configured_seconds(
    silent_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_TIMEOUT", "0.3")

    code, err = run(f"http://127.0.0.1:{silent_port}", monkeypatch, capsys)

    assert code == ExitCode.UNAVAILABLE
    assert f"timed out after 0.3 s waiting for 127.0.0.1:{silent_port}" in err and "RUNTIME__REQUEST_TIMEOUT" in err


def test_the_final_error_keeps_the_last_attempt_and_the_socket_error_as_its_causes(unused_port: int) -> None:
    client = KognitosClient(f"http://127.0.0.1:{unused_port}", "token", max_attempts=2, initial_retry_wait=0.01)
    with client, pytest.raises(TransportError) as raised:
        client.get("/me/organizations")

    final = raised.value
    assert final.attempts == 2 and isinstance(final.__cause__, TransportError) and final.__cause__.attempts is None
    chain = []
    cause: BaseException | None = final
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(error, ConnectionRefusedError) for error in chain), chain


def test_an_untrusted_certificate_keeps_the_tls_error_as_its_cause(self_signed_port: int) -> None:
    client = KognitosClient(f"https://127.0.0.1:{self_signed_port}", "token")
    with client, pytest.raises(ConnectionSetupError) as raised:
        client.get("/me/organizations")

    cause: BaseException | None = raised.value
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None, "the TLS error is not in the chain"
