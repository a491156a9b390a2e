#!/usr/bin/env node
// Keeps the guides' command blocks identical to the walkthrough scripts CI runs (issue 19).
// A script marks a block with `# >>> name` … `# <<< name` (`// >>>` in .mjs files); a guide shows it as
//   <!-- walkthrough: his-integration.sh#setup -->
//   ```sh
//   …the block, rewritten by this script…
//   ```
// Usage: node scripts/sync-walkthroughs.mjs          rewrite the guides' blocks from the scripts
//        node scripts/sync-walkthroughs.mjs --check  exit 1 naming every block that differs
//        --root <dir>                                 another checkout (tests use a copy)
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const rootArg = process.argv.indexOf('--root');
export const ROOT = rootArg > 0 ? process.argv[rootArg + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');
export const WALKTHROUGHS = join(ROOT, 'docs', 'walkthroughs');
/** The Markdown files that show walkthrough blocks. */
export const GUIDE_FILES = () => [
  ...readdirSync(join(ROOT, 'docs', 'guides')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', 'guides', f)),
  join(ROOT, 'README.md'),
].filter((f) => existsSync(f));

const MARKER = /<!-- walkthrough: ([\w.-]+)#([\w-]+) -->\n```(\w*)\n([\s\S]*?)```\n/g;

/** The marked blocks of one script: name → text (ending with a newline). Throws on an unclosed or duplicate block. */
export function extractBlocks(text, file = 'script') {
  const blocks = new Map();
  let open = null;
  let lines = [];
  for (const line of text.split('\n')) {
    const start = /^(?:#|\/\/) >>> ([\w-]+)\s*$/.exec(line);
    const end = /^(?:#|\/\/) <<< ([\w-]+)\s*$/.exec(line);
    if (start) {
      if (open) throw new Error(`${file}: block "${start[1]}" opens inside "${open}"`);
      open = start[1];
      lines = [];
    } else if (end) {
      if (end[1] !== open) throw new Error(`${file}: "<<< ${end[1]}" closes ${open ? `"${open}"` : 'nothing'}`);
      if (blocks.has(open)) throw new Error(`${file}: block "${open}" appears twice`);
      blocks.set(open, lines.join('\n') + '\n');
      open = null;
    } else if (open) lines.push(line);
  }
  if (open) throw new Error(`${file}: block "${open}" is never closed`);
  return blocks;
}

/** Every script's blocks: "file#name" → text. */
export function allBlocks() {
  const all = new Map();
  for (const file of readdirSync(WALKTHROUGHS).filter((f) => f.endsWith('.sh') || f.endsWith('.mjs'))) {
    for (const [name, text] of extractBlocks(readFileSync(join(WALKTHROUGHS, file), 'utf8'), file)) all.set(`${file}#${name}`, text);
  }
  return all;
}

/**
 * A guide with every marked block rewritten from the scripts, the blocks it uses, those whose text
 * differed, and its problems (a marker naming no block).
 */
export function syncGuide(text, blocks) {
  const used = [];
  const differing = [];
  const problems = [];
  const synced = text.replace(MARKER, (whole, file, name, lang) => {
    const key = `${file}#${name}`;
    const block = blocks.get(key);
    if (block === undefined) {
      problems.push(`marker ${key} names no block of docs/walkthroughs/${file}`);
      return whole;
    }
    used.push(key);
    const fresh = `<!-- walkthrough: ${key} -->\n\`\`\`${lang}\n${block}\`\`\`\n`;
    if (fresh !== whole) differing.push(key);
    return fresh;
  });
  const markers = text.match(/<!-- walkthrough:[^>]*-->/g) ?? [];
  if (markers.length !== used.length + problems.length) {
    problems.push(`${markers.length - used.length - problems.length} marker(s) not written as <!-- walkthrough: file#name --> directly followed by a fenced block`);
  }
  return { text: synced, used, differing, problems };
}

/** Every guide's differences from the scripts (check) or rewrites them (write). */
export function run({ check }) {
  const blocks = allBlocks();
  const problems = [];
  const used = new Set();
  for (const file of GUIDE_FILES()) {
    const text = readFileSync(file, 'utf8');
    const result = syncGuide(text, blocks);
    result.used.forEach((k) => used.add(k));
    problems.push(...result.problems.map((p) => `${relative(ROOT, file)}: ${p}`));
    if (result.text !== text) {
      if (check) {
        problems.push(`${relative(ROOT, file)}: differs from the walkthroughs in ${result.differing.join(', ')} (run node scripts/sync-walkthroughs.mjs)`);
      } else writeFileSync(file, result.text);
    }
  }
  for (const key of blocks.keys()) if (!used.has(key)) problems.push(`block ${key} is shown in no guide`);
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const problems = run({ check });
  for (const p of problems) console.error(`sync-walkthroughs: ${p}`);
  if (problems.length) process.exit(1);
  console.log(`sync-walkthroughs: guides ${check ? 'match' : 'written from'} the walkthroughs`);
}
