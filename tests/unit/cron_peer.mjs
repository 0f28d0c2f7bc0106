// Next fire times from the npm package cron-parser (the peer of src/core/cron.cpp), for cron_test.cpp.
// Usage: node cron_peer.mjs <tests/services dir> <count>  (stdin: JSON [{expr, after}], stdout: JSON [[iso…]])
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const [servicesDir, countText] = process.argv.slice(2);
const require = createRequire(servicesDir + '/package.json');
const { CronExpressionParser } = require('cron-parser');
const cases = JSON.parse(readFileSync(0, 'utf8'));
const count = Number(countText);
const out = cases.map(({ expr, after }) => {
  const interval = CronExpressionParser.parse(expr, { currentDate: new Date(after), tz: 'UTC' });
  const times = [];
  for (let i = 0; i < count; i++) times.push(interval.next().toISOString().replace('.000Z', 'Z'));
  return times;
});
process.stdout.write(JSON.stringify(out));
