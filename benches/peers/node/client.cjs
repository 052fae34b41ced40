// The Node side of benches/peers/run.sh: wechatpay-axios-plugin, unchanged, making the same
// signed and verified GET as the Rust client against the benchmark's server, then printing one
// JSON line with this process's CPU time (process.cpuUsage(): user + system, every thread) and
// wall time over the measured requests.
//
//   node client.cjs sequential|concurrent DIR N [IN_FLIGHT]
'use strict';

const { readFileSync } = require('fs');
const { join } = require('path');
const { Wechatpay } = require('wechatpay-axios-plugin');

const [mode, dir, n, inFlightArg] = process.argv.slice(2);
const total = Number(n);
const inFlight = mode === 'sequential' ? 1 : Number(inFlightArg || 16);
if (!['sequential', 'concurrent'].includes(mode) || !dir || !(total > 0) || !(inFlight > 0)) {
  console.error('usage: node client.cjs sequential|concurrent DIR N [IN_FLIGHT]');
  process.exit(2);
}
const WARM_UP = 100;

const identity = JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8'));
const wxpay = new Wechatpay({
  mchid: identity.mchid,
  serial: identity.merchant_serial,
  privateKey: readFileSync(join(dir, 'merchant_key.pem')),
  certs: { [identity.platform_serial]: readFileSync(join(dir, 'platform_cert.pem')) },
  baseURL: identity.base_uri,
});

const call = async () => {
  const res = await wxpay.v3.pay.transactions.id._transaction_id_.get({
    // The query of the Rust clients (`TARGET` in benches/peers/main.rs), which the server
    // expects: the same request bytes for every client.
    params: { mchid: '1900012181' },
    transaction_id: '4200000001',
  });
  if (res.status !== 200 || res.data.transaction_id !== '4200000001') {
    throw new Error(`unexpected answer ${res.status}`);
  }
};

// `count` calls, `inFlight` at a time.
const run = async (count) => {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
};

(async () => {
  await run(Math.max(WARM_UP, inFlight));
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  await run(total);
  const elapsed = Number(process.hrtime.bigint() - wall) / 1e9;
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({
    client: 'wechatpay-axios-plugin',
    mode,
    n: total,
    in_flight: inFlight,
    cpu_s: (used.user + used.system) / 1e6,
    wall_s: elapsed,
    peak_rss_kb: process.resourceUsage().maxRSS,
  }));
})().catch((e) => {
  console.error(`node client: ${e.response ? `${e.response.status} ${JSON.stringify(e.response.data)}` : e.message}`);
  process.exit(1);
});
