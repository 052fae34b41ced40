"""Runs the Python SDK wechatpayv3 (PyPI, 2.0.4), unchanged, against the sandbox whose identity
the environment names (set by `cargo run -p wechatpay-sandbox --example python_peer`).

The SDK is configured as its README says, in the WeChat Pay public key mode (the README's advice
for new merchants and for the move from platform certificates), except for the one thing it has
no option for: the host. Its gateway is the constant https://api.mch.weixin.qq.com, set in
`Core.__init__`; a property on `Core` points it at the sandbox, from the constructor on (the
certificate download of the certificate mode runs in the constructor). Nothing else is touched.

Prints `ok   <step>` or `FAIL <step>: <why>` per step and exits 1 when a step failed. To be
paid it prints `PAY <out_trade_no> <callback_url>` and reads `PAID <the callback's HTTP status>`.

The SDK's weaknesses against production's rules, noticed on the way (none of them hides a
sandbox defect here): it never checks `Wechatpay-Timestamp` (no 300 s window, answers or
callbacks); it does not verify the signature of the `GET /v3/certificates` answer
(`skip_verify=True` in `_update_certificates`); a callback whose signature fails makes
`callback()` return None without saying why.
"""

import json
import logging
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import wechatpayv3.core
from wechatpayv3 import WeChatPay, WeChatPayType


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f'{name} is not set')
    return value


def read(name):
    return Path(env(name)).read_text(encoding='utf-8')


BASE = env('SANDBOX_BASE_URI').rstrip('/')
wechatpayv3.core.Core._gate_way = property(lambda core: BASE, lambda core, production: None)

MCHID = env('SANDBOX_MCHID')
APPID = 'wxd678efh567hg6787'
PLATFORM_SERIAL = env('SANDBOX_PLATFORM_SERIAL')


class Answers(logging.Handler):
    """Keeps the SDK's debug log (the README's `logger`): the sandbox's answers, for failures."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def last(self):
        wanted = ('Response status code', 'Response content')
        return ' | '.join(line for line in self.lines[-6:] if line.startswith(wanted))


answers = Answers()
LOGGER = logging.getLogger('wechatpayv3-peer')
LOGGER.setLevel(logging.DEBUG)
LOGGER.addHandler(answers)
LOGGER.propagate = False

received = {}


class Notify(BaseHTTPRequestHandler):
    """The merchant's notify_url, as the README's Q&A writes it for Flask: `callback()` is
    given the headers and the body exactly as received."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        try:
            result = wxpay.callback(headers=self.headers, body=body)
        except Exception as e:  # the SDK raises on what it does not support
            result, received['error'] = None, f'{type(e).__name__}: {e}'
        received['result'] = result
        if result and result.get('event_type') == 'TRANSACTION.SUCCESS':
            status, answer = 200, {'code': 'SUCCESS', 'message': '成功'}
        else:
            status, answer = 500, {'code': 'FAILED', 'message': '失败'}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


server = HTTPServer(('127.0.0.1', 0), Notify)
threading.Thread(target=server.serve_forever, daemon=True).start()
NOTIFY_URL = f'http://127.0.0.1:{server.server_port}/notify'

wxpay = WeChatPay(
    wechatpay_type=WeChatPayType.NATIVE,
    mchid=MCHID,
    private_key=read('SANDBOX_PRIVATE_KEY_FILE'),
    cert_serial_no=env('SANDBOX_SERIAL'),
    apiv3_key=env('SANDBOX_APIV3_KEY'),
    appid=APPID,
    notify_url=NOTIFY_URL,
    logger=LOGGER,
    timeout=(10, 30),
    public_key=read('SANDBOX_PUBLIC_KEY_FILE'),
    public_key_id=env('SANDBOX_PUBLIC_KEY_ID'))

failed = []


def step(name, check):
    """Runs `check` (returns ok, detail); prints the step's outcome."""
    try:
        ok, detail = check()
    except Exception as e:
        ok, detail = False, f'{type(e).__name__}: {e}; the sandbox answered: {answers.last()}'
    if ok:
        print(f'ok   {name}', flush=True)
    else:
        print(f'FAIL {name}: {detail}', flush=True)
        failed.append(name)


def answered(code, message, ok):
    return ok, f'HTTP {code} {message!r}'


def complaint():
    code, message = wxpay.complaint_response(
        complaint_id='200201820200101080076610000', response_content='已与用户沟通解决')
    return answered(code, message, code == 204)


def certificates():
    # The certificate mode, as the README configures it with an (empty) certificate cache
    # directory: the constructor downloads the platform certificates and keeps them there.
    with tempfile.TemporaryDirectory() as cert_dir:
        WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=MCHID,
            private_key=read('SANDBOX_PRIVATE_KEY_FILE'),
            cert_serial_no=env('SANDBOX_SERIAL'),
            apiv3_key=env('SANDBOX_APIV3_KEY'),
            appid=APPID,
            notify_url=NOTIFY_URL,
            cert_dir=cert_dir,
            logger=LOGGER,
            timeout=(10, 30))
        kept = Path(cert_dir, f'{PLATFORM_SERIAL}.pem')
        same = kept.exists() and kept.read_text().strip() == read('SANDBOX_PLATFORM_CERT_FILE').strip()
        return same, f'the certificate directory holds {sorted(os.listdir(cert_dir))}, not the platform certificate {PLATFORM_SERIAL}'


out_trade_no = f'py{time.time_ns()}'[:32]


def native():
    code, message = wxpay.pay(
        description='Image形象店-深圳腾大-QQ公仔',
        out_trade_no=out_trade_no,
        amount={'total': 1, 'currency': 'CNY'},
        pay_type=WeChatPayType.NATIVE)
    return answered(code, message, code == 200 and json.loads(message).get('code_url'))


def callback():
    print(f'PAY {out_trade_no} {NOTIFY_URL}', flush=True)
    line = sys.stdin.readline().split()
    if line[:1] != ['PAID']:
        return False, f'the example answered {line!r}'
    status = ' '.join(line[1:])
    result = received.get('result')
    if result is None:
        why = received.get('error', 'callback() returned None (signature not verified, or not decrypted)')
        return False, f'HTTP {status} from the receiver: {why}' if 'result' in received else f'no callback arrived: {status}'
    resource = result.get('resource', {})
    ok = (status in ('200', '204') and result.get('event_type') == 'TRANSACTION.SUCCESS'
          and resource.get('out_trade_no') == out_trade_no and resource.get('trade_state') == 'SUCCESS')
    return ok, f'HTTP {status}; callback() gave {result!r}'


def refund():
    code, message = wxpay.refund(
        out_refund_no=f'{out_trade_no}r',
        amount={'refund': 1, 'total': 1, 'currency': 'CNY'},
        out_trade_no=out_trade_no,
        reason='商品已售完')
    return answered(code, message, code == 200 and json.loads(message).get('status') in ('PROCESSING', 'SUCCESS'))


# A 1x1 PNG.
PNG = bytes.fromhex(
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000'
    '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082')


def upload():
    with tempfile.TemporaryDirectory() as dir:
        path = Path(dir, 'peer.png')
        path.write_bytes(PNG)
        code, message = wxpay.image_upload(filepath=str(path))
    return answered(code, message, code == 200 and json.loads(message).get('media_id'))


step('v3 complaint response (204, signed answer verified)', complaint)
step('v3 platform certificates (downloaded by the certificate-mode constructor)', certificates)
step('v3 native order', native)
step('payment callback (verified and decrypted by wxpay.callback)', callback)
step('v3 refund', refund)
step('v3 media upload (wxpay.image_upload)', upload)
server.shutdown()
if failed:
    print(f'FAILED: {", ".join(failed)}', flush=True)
    sys.exit(1)
