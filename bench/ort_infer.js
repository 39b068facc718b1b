#!/usr/bin/env node
// ONNX Runtime (CPU provider, MLAS) inference beside bench/bench_infer.c:
// prints a markdown table.
//
//   node bench/ort_infer.js ORT_DIR ONNX_DIR [runs] [arch...]
//
// ORT_DIR holds node_modules/onnxruntime-node (npm install --ignore-scripts
// onnxruntime-node); ONNX_DIR the networks bench/ort_export.py wrote.
// alexnet, vgg16, resnet152 at 224x224 and inception_v3 at 299x299, batch 1
// and 8, intra-op threads 1 and 2 (inter-op 1, sequential), graph
// optimisation level "all", one warm-up run, median of runs (default 5).
// Each row gets a fresh session (released after it); each network runs in
// its own process, whose peak RSS (resourceUsage().maxRSS) is its own.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

const MODELS = [['alexnet', 224], ['vgg16', 224], ['resnet152', 224], ['inception_v3', 299]];

function median(t) {
  const s = t.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

// Seeded standard normals (an LCG and Box-Muller): the same input every run.
function normals(n) {
  const x = new Float32Array(n);
  let s = 2n;
  const next = () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return (Number(s >> 11n) + 0.5) / 2 ** 53;
  };
  for (let i = 0; i < n; i++) {
    x[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  }
  return x;
}

async function child(ortDir, file, arch, size, runs) {
  const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));
  const per = 3 * size * size;
  const x8 = normals(8 * per);
  for (const b of [1, 8]) {
    const x = new ort.Tensor('float32', x8.subarray(0, b * per), [b, 3, size, size]);
    for (const th of [1, 2]) {
      const sess = await ort.InferenceSession.create(file, {
        executionProviders: ['cpu'], graphOptimizationLevel: 'all',
        intraOpNumThreads: th, interOpNumThreads: 1, executionMode: 'sequential',
      });
      const t = [];
      for (let k = 0; k <= runs; k++) {
        const t0 = process.hrtime.bigint();
        const out = await sess.run({ x });
        if (out.y.dims[0] !== b) throw new Error(`${arch}: output batch ${out.y.dims[0]}, not ${b}`);
        if (k) t.push(Number(process.hrtime.bigint() - t0) * 1e-9);
      }
      await sess.release();
      const rss = process.resourceUsage().maxRSS / 1024;
      console.log(`${arch} ${size} ${b} ${th} ${(b / median(t)).toFixed(2)} ${rss.toFixed(0)}`);
    }
  }
}

function main() {
  const a = process.argv.slice(2);
  if (a[0] === '--child') {
    child(a[1], a[2], a[3], Number(a[4]), Number(a[5])).catch((e) => {
      console.error(`ort_infer.js: ${a[3]}: ${e.message}`);
      process.exit(1);
    });
    return;
  }
  if (a.length < 2) {
    console.error('usage: ort_infer.js ORT_DIR ONNX_DIR [runs] [arch...]');
    process.exit(2);
  }
  const [ortDir, onnxDir] = a;
  let runs = a.length > 2 ? Number(a[2]) : 5;
  if (!Number.isInteger(runs) || runs < 3 || runs > 64) runs = 5;
  const only = new Set(a.slice(3));
  const pkg = require(path.join(ortDir, 'node_modules', 'onnxruntime-node', 'package.json'));
  console.log(`ONNX Runtime ${pkg.version} (npm onnxruntime-node, node ${process.version}), ` +
              'CPU execution provider, graph optimisation "all".');
  console.log('');
  console.log('| model | input | batch | threads | ORT images/s | peak RSS MiB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  let status = 0;
  for (const [arch, size] of MODELS) {
    if (only.size && !only.has(arch)) continue;
    const file = path.join(onnxDir, `${arch}.onnx`);
    const r = spawnSync(process.execPath, [__filename, '--child', ortDir, file, arch, String(size),
      String(runs)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    for (const line of r.stdout.split('\n').filter((l) => l)) {
      const c = line.split(' ');
      console.log(`| ${c.join(' | ')} |`);
    }
    if (r.status !== 0) status = 1;
  }
  process.exit(status);
}

main();
