#!/usr/bin/env python3
"""Builds and signs a Sluice envelope the way a producer in another language does
(docs/signing.md). Standard library only.

    python3 sign_envelope.py --key-id reporting --key-hex <64+ hex digits> \
        --kind analytics.query --args '{"name": "campaign_stats", "params": {}}'

prints one JSON object: the exact message body to publish (a string), its AMQP headers and
message_id, and where it goes (exchange `{prefix}.jobs`, routing key = the class). Publish the
body's bytes unchanged: the signature covers those bytes, so re-serialising breaks it. With
pika, for example:

    channel.basic_publish(out["exchange"], out["routing_key"], out["body"].encode(),
        pika.BasicProperties(content_type="application/json", delivery_mode=2,
                             message_id=out["message_id"], headers=out["headers"]))
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import time
import uuid

CONTEXT = b"sluice-envelope-v1"


def uuid7():
    """A UUIDv7 (time-ordered), as Sluice's own producers make."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def sign(key_id, key, body):
    """HMAC-SHA256 over `sluice-envelope-v1 \\n key_id \\n body`, lowercase hex."""
    return hmac.new(key, CONTEXT + b"\n" + key_id.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def envelope(kind, args, target="main", enqueued_by=None, max_attempts=5, timeout_s=900):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "v": 1, "id": uuid7(), "kind": kind, "args": args, "target": target, "attempt": 1,
        "max_attempts": max_attempts, "timeout_s": timeout_s,
        "enqueued_at": now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000),
        "enqueued_by": enqueued_by, "producer": "python-example",
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--key-id", required=True)
    p.add_argument("--key-hex", required=True)
    p.add_argument("--kind", required=True)
    p.add_argument("--args", default="{}")
    p.add_argument("--class", dest="workload_class", default=None, help="the class (queue); default: the kind's namespace")
    p.add_argument("--target", default="main")
    p.add_argument("--prefix", default="sluice", help="SLUICE_QUEUE_PREFIX")
    p.add_argument("--enqueued-by", default=None)
    a = p.parse_args()
    env = envelope(a.kind, json.loads(a.args), target=a.target, enqueued_by=a.enqueued_by)
    # Any JSON serialisation will do: the signature is over these exact bytes.
    body = json.dumps(env, sort_keys=True, separators=(",", ":")).encode()
    headers = {"sluice-key-id": a.key_id, "sluice-signature": sign(a.key_id, bytes.fromhex(a.key_hex), body)}
    print(json.dumps({
        "body": body.decode(), "headers": headers, "message_id": env["id"],
        "exchange": a.prefix + ".jobs", "routing_key": a.workload_class or a.kind.split(".")[0],
    }))


if __name__ == "__main__":
    main()
