"""The transports on the real SDKs against the fake providers: every answer
class becomes the right kind of failure, on both SendGrid and Twilio."""
from __future__ import annotations

import socket
import time

import pytest

from services.notifier.adapters.sendgrid_transport import SendGridTransport
from services.notifier.adapters.twilio_transport import TwilioTransport
from services.notifier.domain.model import Delivery, PermanentFailure, TemporaryFailure


@pytest.fixture
def transports(fake):
    return {"email": SendGridTransport("SG.key", fake.url, "from@acme.example", timeout=0.5),
            "sms": TwilioTransport("ACtest", "token", fake.url, "+15005550006", timeout=0.5)}


def delivery(channel):
    to = "ada@example.com" if channel == "email" else "+441234567890"
    return Delivery(7, "event-1", "appt-1", "acme", channel, "client", to, "Hello", "Body",
                    "<p>Body</p>", 1)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_success_returns_the_providers_message_id(transports, fake, channel):
    provider_id = transports[channel].send(delivery(channel))
    (request,) = fake.accepted
    assert provider_id == request.provider_id and request.text == "Body"


@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("status,kind", [(400, PermanentFailure), (401, PermanentFailure),
                                         (403, PermanentFailure), (429, TemporaryFailure),
                                         (500, TemporaryFailure), (503, TemporaryFailure)])
def test_each_answer_class(transports, fake, channel, status, kind):
    fake.fail(channel, status)
    with pytest.raises(kind) as refused:
        transports[channel].send(delivery(channel))
    assert str(status) in refused.value.reason


@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("headers,wait", [({"Retry-After": "7"}, 7.0),
                                          ({"X-RateLimit-Reset": "{reset}"}, 30.0)])
def test_rate_limit_headers_say_how_long_to_wait(transports, fake, channel, headers, wait):
    reset = str(int(time.time()) + 30)
    fake.fail(channel, 429, headers={k: v.format(reset=reset) for k, v in headers.items()})
    with pytest.raises(TemporaryFailure) as refused:
        transports[channel].send(delivery(channel))
    assert refused.value.retry_after == pytest.approx(wait, abs=1.5)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_hang_past_the_time_out_is_temporary(transports, fake, channel):
    fake.hang(channel, 2.0)
    started = time.monotonic()
    with pytest.raises(TemporaryFailure):
        transports[channel].send(delivery(channel))
    assert time.monotonic() - started < 1.5
    assert fake.accepted == []


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_an_unreachable_provider_is_temporary(channel):
    transport = (SendGridTransport("SG.key", "http://127.0.0.1:9", "f@x", timeout=0.5)
                 if channel == "email" else
                 TwilioTransport("ACtest", "token", "http://127.0.0.1:9", "+1", timeout=0.5))
    with pytest.raises(TemporaryFailure):
        transport.send(delivery(channel))


def test_a_request_cut_off_mid_body_is_never_a_message(fake):
    """A notifier killed while sending leaves half a request behind: like a real
    provider, the fake sends nothing for it (the crash test counts on this)."""
    host, port = fake.url.removeprefix("http://").split(":")
    form = b"To=%2B441234567890&From=%2B15005550006&Body=Hello"
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /2010-04-01/Accounts/ACtest/Messages.json HTTP/1.1\r\n"
                     b"Host: fake\r\nAuthorization: Basic eDp5\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(form) + form[:10])
    transport = TwilioTransport("ACtest", "token", fake.url, "+15005550006", timeout=2)
    transport.send(delivery("sms"))  # a whole request afterwards is answered as usual
    assert [(r.channel, r.to) for r in fake.requests] == [("sms", "+441234567890")]
