// Runs a few calls of the Node reference SDK, wechatpay-axios-plugin, unchanged, against the
// sandbox whose identity the environment names (set by `cargo run -p wechatpay-sandbox
// --example node_peer`). Exits non-zero on the first failure.
'use strict';

const { readFileSync } = require('fs');
const { Wechatpay } = require('wechatpay-axios-plugin');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const mchid = env('SANDBOX_MCHID');
const wxpay = new Wechatpay({
  mchid,
  serial: env('SANDBOX_SERIAL'),
  privateKey: readFileSync(env('SANDBOX_PRIVATE_KEY_FILE')),
  certs: {
    [env('SANDBOX_PUBLIC_KEY_ID')]: readFileSync(env('SANDBOX_PUBLIC_KEY_FILE')),
    [env('SANDBOX_PLATFORM_SERIAL')]: readFileSync(env('SANDBOX_PLATFORM_CERT_FILE')),
  },
  secret: env('SANDBOX_APIV2_SECRET'),
  baseURL: env('SANDBOX_BASE_URI'),
});

const check = (what, condition, detail) => {
  if (!condition) {
    console.error(`FAIL ${what}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok   ${what}`);
};

(async () => {
  const outTradeNo = `node${Date.now()}`;
  const native = await wxpay.v3.pay.transactions.native.post({
    mchid,
    out_trade_no: outTradeNo,
    appid: 'wxd678efh567hg6787',
    description: 'Image形象店-深圳腾大-QQ公仔',
    notify_url: 'https://weixin.qq.com/',
    amount: { total: 1, currency: 'CNY' },
  });
  check('v3 native prepay (signed request, verified answer)', native.status === 200 && native.data.code_url, native.data);

  const order = await wxpay.v3.pay.transactions.outTradeNo._out_trade_no_.get({
    params: { mchid },
    out_trade_no: outTradeNo,
  });
  check('v3 query by out_trade_no', order.data.out_trade_no === outTradeNo && order.data.trade_state === 'NOTPAY', order.data);

  const reply = await wxpay.v3.merchantService.complaintsV2._complaint_id_.response.post({
    complainted_mchid: mchid,
    response_content: '已与用户沟通解决',
  }, { complaint_id: '200201820200101080076610000' });
  check('v3 complaint response (204, signed)', reply.status === 204, reply.status);

  const closed = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.close.post({ mchid }, { out_trade_no: outTradeNo });
  check('v3 close', closed.status === 204, closed.status);

  try {
    await wxpay.v3.pay.transactions.id._transaction_id_.get({ params: { mchid }, transaction_id: '4200000000000000000000000000' });
    check('v3 unknown order is a 404', false, 'no error');
  } catch (e) {
    check('v3 unknown order is a 404', e.response && e.response.status === 404, e.response && e.response.data);
  }

  const micropay = await wxpay.v2.pay.micropay.post({
    appid: 'wxd678efh567hg6787',
    mch_id: mchid,
    body: 'micropay from node',
    out_trade_no: `${outTradeNo}m`,
    total_fee: 1,
    spbill_create_ip: '127.0.0.1',
    auth_code: '134567890123456789',
  });
  check('v2 micropay (MD5 sign both ways)', micropay.data.return_code === 'SUCCESS' && micropay.data.result_code === 'SUCCESS', micropay.data);
})().catch((e) => {
  console.error('FAIL', e.response ? [e.response.status, e.response.data] : e);
  process.exit(1);
});
