import { readFile } from 'node:fs/promises';

/**
 * Summarises a V8 `.cpuprofile` (from `BENCH_CPU_PROF=<dir> npm run bench`): where the busy
 * time went, by package and by function (self and inclusive). Idle time is left out.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [top=25] [--last=<s>] [--skip-last=<s>]
 *
 * `--last=11` keeps only the last 11 s of the profile: with `BENCH_ONLY=read` that is the
 * measured read run of the ChartWarden server (start-up, seeding and warm-up left out).
 * `--skip-last=13` also leaves out the final 13 s (e.g. the update run after the create run).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const option = (name: string) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : Number(arg.slice(name.length + 3)) * 1e6;
};
const [file, topArg] = args.filter((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top] [--last=<s>] [--skip-last=<s>]');
  process.exit(1);
}
const top = Number(topArg ?? 25);
const skipUs = option('skip-last') ?? 0;
const lastUs = (option('last') ?? Infinity) + skipUs;
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
let at = profile.startTime;
const from = profile.endTime - lastUs;
const to = profile.endTime - skipUs;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i];
  if (at < from || at > to) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next sample
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
const idleUs = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
const busyUs = totalUs - idleUs;

function pkg(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (SPECIAL.has(functionName) && !url) return functionName;
  if (!url) return '(native / V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node: core';
  if (url.includes('/dist/src/')) return 'chartwarden (dist/src)';
  return url.replace(/^file:\/\//, '');
}

function fn(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

const selfByPkg = new Map<string, number>();
const selfByFn = new Map<string, number>();
for (const [id, t] of self) {
  const node = byId.get(id);
  if (!node || node.callFrame.functionName === '(idle)') continue;
  selfByPkg.set(pkg(node), (selfByPkg.get(pkg(node)) ?? 0) + t);
  selfByFn.set(fn(node), (selfByFn.get(fn(node)) ?? 0) + t);
}

// Inclusive time per function: each sample counted once per distinct function on its stack.
const inclusive = new Map<string, number>();
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
for (const [id, t] of self) {
  if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur);
    if (!node || node.callFrame.functionName === '(root)') continue;
    const key = fn(node);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + t);
  }
}

const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)} %`;
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)} ${ms(t)}  ${k}`);
};

console.log(`${file}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(1)} s busy (idle left out; percentages of busy time)`);
print('self time by package', selfByPkg);
print('self time by function', selfByFn);
print('inclusive time by function', inclusive);
