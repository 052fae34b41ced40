// Runs the Node SDK wechatpay-node-v3 (npm, 2.2.1), unchanged, against the sandbox whose
// identity the environment names (set by `cargo run -p wechatpay-sandbox --example
// node_v3_peer`). Prints `ok   <step>` or `FAIL <step>: <why>` per step and exits 1 when a step
// failed. To be paid it prints `PAY <out_trade_no> <callback_url>` and reads `PAID <the
// callback's HTTP status>`.
//
// The SDK is configured as its README says: the merchant certificate (`publicKey`) and private
// key, no `serial_no` (the SDK reads it from the certificate, `getSN`), and `key`, the APIv3 key,
// for callbacks. Its URLs are all https://api.mch.weixin.qq.com/...: the README's way to send
// them elsewhere is an IPayRequest of one's own (`pay.createHttp`). This one makes the calls the
// SDK's own PayRequest makes (superagent, the same headers and body) on the sandbox's host, and
// verifies every signed answer with the SDK's `verifySign`, which the SDK never does itself (its
// PayRequest drops the answers' headers).
//
// The SDK's own bugs, left as they are (none of them is a sandbox defect):
// - `upload_images` cannot work: it calls the service's `post` (not `upload`) with the relative
//   URL `/v3/merchant/media/upload` (superagent sends that to http://127.0.0.1:80), the object
//   `{ fileinfo, pic_buffer }` as the body and `Content-Type: multipart/form-data;boundary=
//   boundary`; superagent has no serializer for multipart, so the SDK's PayRequest fails before
//   anything is sent (ERR_INVALID_ARG_TYPE). Its PayRequest.upload, which `upload_images` never
//   calls, would send no Authorization header.
// - `decipher_gcm` never calls `decipher.final()`, so the AES-GCM tag is never checked: a
//   tampered ciphertext decrypts to garbage instead of failing (2.2.0 "fixed" the "unable to
//   authenticate data" error that way).
// - `verifySign` ignores `Wechatpay-Timestamp` (no 300 s window), and `get_certificates` and
//   the certificate download of `verifySign` do not verify the list's signature.
// - The APIv3 `serial_no` it derives with `getSN` is lower-case hex (@fidm/x509's
//   `serialNumber`); WeChat Pay's serials are upper-case (`openssl x509 -serial`).
'use strict';

const crypto = require('crypto');
const http = require('http');
const readline = require('readline');
const { readFileSync } = require('fs');
const request = require('superagent');
const WxPay = require('wechatpay-node-v3');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const PRODUCTION = 'https://api.mch.weixin.qq.com';
const base = env('SANDBOX_BASE_URI').replace(/\/$/, '');
const mchid = env('SANDBOX_MCHID');
const appid = 'wxd678efh567hg6787';
const key = env('SANDBOX_APIV3_KEY');
const platformSerial = env('SANDBOX_PLATFORM_SERIAL');

const pay = new WxPay({
  appid,
  mchid,
  publicKey: readFileSync(env('SANDBOX_MERCHANT_CERT_FILE')),
  privateKey: readFileSync(env('SANDBOX_PRIVATE_KEY_FILE')),
  key,
});

// The last answer of the sandbox, for the failure messages (the SDK hides some of them).
let last = 'none';

class Unverified extends Error {}

const answer = async (url, send) => {
  const path = url.startsWith(PRODUCTION) ? url.slice(PRODUCTION.length) : url;
  let res;
  try {
    res = await send(url.startsWith(PRODUCTION) ? base + path : url);
  } catch (error) {
    // As the SDK's PayRequest answers a failure, plus the error's message.
    const err = JSON.parse(JSON.stringify(error));
    last = `${error.status || error.code} ${(error.response && error.response.text) || error.message}`;
    return { status: err.status, errRaw: err, error: err.response && err.response.text, message: error.message, code: error.code };
  }
  last = `${res.status} ${res.text}`;
  // The list itself is not verified: the SDK's certificate download (`verifySign` calls it)
  // comes through here.
  if (path !== '/v3/certificates') {
    const h = res.headers;
    let ok;
    try {
      ok = await pay.verifySign({
        timestamp: h['wechatpay-timestamp'],
        nonce: h['wechatpay-nonce'],
        serial: h['wechatpay-serial'],
        signature: h['wechatpay-signature'],
        body: res.text || '',
      });
    } catch (e) {
      throw new Unverified(`verifySign failed on the answer to ${path} (${e.message}); last answer: ${last}`);
    }
    if (!ok) throw new Unverified(`verifySign refused the answer to ${path}: ${res.status} ${res.text}`);
  }
  return { status: res.status, data: res.type === 'text/plain' ? res.text : res.body };
};

pay.createHttp({
  post: (url, params, headers) => answer(url, (to) => request.post(to).send(params).set(headers)),
  get: (url, headers) => answer(url, (to) => request.get(to).set(headers)),
  // Never called by 2.2.1 (see above); as the SDK's PayRequest.upload, with the headers.
  upload: (url, params, headers) => answer(url, (to) => request.post(to).set(headers)
    .attach('file', params.pic_buffer, { filename: '72fe0092be0cf9dd8420579cc954fb4e.jpg', contentType: 'image/jpg' })
    .field('meta', JSON.stringify(params.fileinfo))),
});

// The merchant's notify_url: `verifySign` (docs/verifySign.md: the headers in lower case, here
// the body as received) and `decipher_gcm` (docs/transactions_h5.md).
const received = {};
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let status = 500;
    try {
      const ok = await pay.verifySign({
        body,
        signature: req.headers['wechatpay-signature'],
        serial: req.headers['wechatpay-serial'],
        nonce: req.headers['wechatpay-nonce'],
        timestamp: req.headers['wechatpay-timestamp'],
      });
      if (!ok) throw new Error('verifySign returned false');
      const { event_type, resource } = JSON.parse(body);
      const transaction = pay.decipher_gcm(resource.ciphertext, resource.associated_data, resource.nonce);
      received.result = { event_type, transaction };
      status = 200;
    } catch (e) {
      received.error = `${e.message}; last answer: ${last}`;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? { code: 'SUCCESS', message: '成功' } : { code: 'FAIL', message: '失败' }));
  });
});

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => (await lines.next()).value || '';

// A step's check answers [true | false | SDK_BUG, detail]. SDK_BUG: the step failed in the SDK,
// as its known bug (above) makes it fail; it is reported, and it fails the run only if the
// SDK failed some other way.
const SDK_BUG = 'sdk-bug';
const failed = [];
const step = async (name, check) => {
  let ok;
  let detail;
  try {
    [ok, detail] = await check();
  } catch (e) {
    [ok, detail] = [false, e instanceof Unverified ? e.message : `${e.message}; the sandbox answered: ${last}`];
  }
  if (ok === SDK_BUG) {
    console.log(`bug  ${name}: ${detail}`);
  } else {
    console.log(ok ? `ok   ${name}` : `FAIL ${name}: ${detail}`);
    if (!ok) failed.push(name);
  }
};
const answered = (result, ok) => {
  if (result.status === undefined) return [ok, `nothing sent: ${result.message}`];
  const body = result.data === undefined || result.data === '' ? result.error : result.data;
  return [ok, `HTTP ${result.status} ${typeof body === 'string' ? body : JSON.stringify(body)}`];
};

const outTradeNo = `nodev3${Date.now()}`;
let notifyUrl;

const complaint = async () => {
  // The SDK has no complaint API: the README's own recipe, `getSignature` and
  // `getAuthorization`, with its headers, sent by superagent.
  const url = '/v3/merchant-service/complaints-v2/200201820200101080076610000/response';
  const params = { complainted_mchid: mchid, response_content: '已与用户沟通解决' };
  const nonce_str = Math.random().toString(36).substr(2, 15);
  const timestamp = parseInt(+new Date() / 1000 + '').toString();
  const signature = pay.getSignature('POST', nonce_str, timestamp, url, params);
  const authorization = pay.getAuthorization(nonce_str, timestamp, signature);
  const result = await answer(PRODUCTION + url, (to) => request.post(to).send(params).set({
    Accept: 'application/json',
    'Content-Type': 'application/json',
    'User-Agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36',
    Authorization: authorization,
  }));
  return answered(result, result.status === 204);
};

const certificates = async () => {
  const list = await pay.get_certificates(key);
  const spki = (pem) => crypto.createPublicKey(pem).export({ type: 'spki', format: 'pem' });
  const mine = list.find((c) => c.serial_no === platformSerial);
  const ok = mine && spki(mine.publicKey) === spki(readFileSync(env('SANDBOX_PLATFORM_CERT_FILE')));
  return [ok, `get_certificates gave ${JSON.stringify(list.map((c) => c.serial_no))}, not ${platformSerial}`];
};

const native = async () => {
  const result = await pay.transactions_native({
    description: 'Image形象店-深圳腾大-QQ公仔',
    out_trade_no: outTradeNo,
    notify_url: notifyUrl,
    amount: { total: 1, currency: 'CNY' },
  });
  return answered(result, result.status === 200 && result.data && result.data.code_url);
};

const callback = async () => {
  console.log(`PAY ${outTradeNo} ${notifyUrl}`);
  const [word, ...rest] = (await nextLine()).split(' ');
  if (word !== 'PAID') return [false, `the example answered ${JSON.stringify([word, ...rest])}`];
  const status = rest.join(' ');
  if (!received.result) {
    return [false, `HTTP ${status} from the receiver: ${received.error || 'no callback arrived'}`];
  }
  const { event_type, transaction } = received.result;
  const ok = ['200', '204'].includes(status) && event_type === 'TRANSACTION.SUCCESS'
    && transaction.out_trade_no === outTradeNo && transaction.trade_state === 'SUCCESS';
  return [ok, `HTTP ${status}; decipher_gcm gave ${JSON.stringify(received.result)}`];
};

const refund = async () => {
  const result = await pay.refunds({
    out_trade_no: outTradeNo,
    out_refund_no: `${outTradeNo}r`,
    reason: '商品已售完',
    amount: { refund: 1, total: 1, currency: 'CNY' },
  });
  return answered(result, result.status === 200 && ['PROCESSING', 'SUCCESS'].includes(result.data && result.data.status));
};

// A 1x1 PNG.
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
  + '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082', 'hex');

const upload = async () => {
  const result = await pay.upload_images(PNG, 'peer.png');
  if (result.status === undefined && result.code === 'ERR_INVALID_ARG_TYPE') {
    return [SDK_BUG, `the SDK's own bug (see the top of peer.cjs), nothing sent: ${result.message}`];
  }
  return answered(result, result.status === 200 && result.data && result.data.media_id);
};

const uploadByRecipe = async () => {
  // What `upload_images` means to do, with the README's recipe (`getSignature` over the meta
  // JSON, `getAuthorization`) and superagent's multipart: the SDK's signing of an upload.
  const url = '/v3/merchant/media/upload';
  const meta = { filename: 'peer.png', sha256: crypto.createHash('sha256').update(PNG).digest('hex') };
  const nonce_str = Math.random().toString(36).substr(2, 15);
  const timestamp = parseInt(+new Date() / 1000 + '').toString();
  const signature = pay.getSignature('POST', nonce_str, timestamp, url, meta);
  const authorization = pay.getAuthorization(nonce_str, timestamp, signature);
  const result = await answer(PRODUCTION + url, (to) => request.post(to)
    .set({ Accept: 'application/json', Authorization: authorization })
    .field('meta', JSON.stringify(meta))
    .attach('file', PNG, { filename: meta.filename, contentType: 'image/png' }));
  return answered(result, result.status === 200 && result.data && result.data.media_id);
};

(async () => {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  notifyUrl = `http://127.0.0.1:${server.address().port}/notify`;
  await step('v3 complaint response (204, signed answer verified by verifySign)', complaint);
  await step('v3 platform certificates (get_certificates)', certificates);
  await step('v3 native order (transactions_native)', native);
  await step('payment callback (verifySign and decipher_gcm)', callback);
  await step('v3 refund (refunds)', refund);
  await step('v3 media upload (upload_images)', upload);
  await step('v3 media upload (getSignature and getAuthorization, superagent multipart)', uploadByRecipe);
  server.close();
  if (failed.length) console.log(`FAILED: ${failed.join(', ')}`);
  process.exit(failed.length ? 1 : 0);
})().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
