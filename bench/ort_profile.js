#!/usr/bin/env node
// ONNX Runtime's per-node profile of one network, in bench/bench_layers.c's
// classes, to read beside it: where ORT spends its forward pass.
//
//   node bench/ort_profile.js ORT_DIR ONNX_DIR ARCH [batch] [runs]
//
// ORT_DIR and ONNX_DIR as for bench/ort_infer.js (bench/run.sh fills them).
// CPU provider, graph optimisation "all", one intra-op thread, profiling on
// (enableProfiling: a JSON trace in the system's temporary folder, removed
// after); one warm-up and `runs` (default 7) forwards of a seeded input.
// Per node the median of its kernel times over the runs; nodes are grouped
// as bench_layers groups netdx's layers: convolutions by kernel, stride and
// output size (the first one is the stem), the rest by op.  GFLOP as a
// direct convolution counts them (2*K*C/g*KH*KW*OH*OW per image).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function median(t) {
  const s = t.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function shapes(list) {
  return (list || []).map((o) => Object.values(o)[0]);
}

async function main() {
  const a = process.argv.slice(2);
  if (a.length < 3) {
    console.error('usage: ort_profile.js ORT_DIR ONNX_DIR ARCH [batch] [runs]');
    process.exit(2);
  }
  const [ortDir, onnxDir, arch] = a;
  const batch = a.length > 3 ? Number(a[3]) : 1;
  const runs = a.length > 4 ? Number(a[4]) : 7;
  const size = arch === 'inception_v3' ? 299 : 224;
  const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-'));
  const sess = await ort.InferenceSession.create(path.join(onnxDir, `${arch}.onnx`), {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1,
    interOpNumThreads: 1, executionMode: 'sequential', enableProfiling: true,
    profileFilePrefix: path.join(dir, arch),
  });
  const n = batch * 3 * size * size;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) * 1.5;
  const input = new ort.Tensor('float32', x, [batch, 3, size, size]);
  const total = [];
  for (let k = 0; k <= runs; k++) {
    const t0 = process.hrtime.bigint();
    await sess.run({ x: input });
    if (k) total.push(Number(process.hrtime.bigint() - t0) * 1e-6);
  }
  sess.endProfiling();
  await sess.release();
  const file = fs.readdirSync(dir).map((f) => path.join(dir, f))[0];
  const events = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  const nodes = new Map();   // node name -> {op, ins, outs, durs}
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    if (!nodes.has(e.name)) {
      nodes.set(e.name, { op: e.args.op_name, ins: shapes(e.args.input_type_shape),
        outs: shapes(e.args.output_type_shape), durs: [] });
    }
    nodes.get(e.name).durs.push(e.dur * 1e-3);
  }
  const classes = new Map();
  let first = true;
  let gsum = 0;
  for (const nd of nodes.values()) {
    const durs = nd.durs.slice(-runs);   // the warm-up's first
    const ms = median(durs);
    let name = nd.op;
    let gf = 0;
    if (nd.op === 'Conv' && nd.ins.length > 1 && nd.ins[1].length === 4) {
      const [, c, h] = nd.ins[0];
      const [k, cg, kh, kw] = nd.ins[1];
      const [nb, , oh, ow] = nd.outs[0];
      const s = Math.round(h / oh);
      gf = 2 * nb * k * cg * kh * kw * oh * ow * 1e-9;
      name = `${first ? 'stem ' : ''}${kh}x${kw}${s > 1 || first ? ` s${s}` : ''} -> ${oh}`;
      first = false;
      if (c === undefined) name = nd.op;
    }
    gsum += gf;
    const cl = classes.get(name) || { n: 0, gf: 0, ms: 0 };
    cl.n++;
    cl.gf += gf;
    cl.ms += ms;
    classes.set(name, cl);
  }
  const fwd = median(total);
  console.log(`ONNX Runtime ${arch}, batch ${batch}, 1 thread: forward ${fwd.toFixed(1)} ms ` +
    `(median of ${runs}, profiling on)\n`);
  console.log('| layer class | nodes | GFLOP | ms | share of forward | GFLOP/s |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const rows = [...classes.entries()].sort((p, q) => q[1].ms - p[1].ms);
  for (const [name, cl] of rows) {
    const gs = cl.gf > 0 ? (cl.gf / cl.ms * 1e3).toFixed(1) : '';
    console.log(`| ${name} | ${cl.n} | ${cl.gf > 0 ? cl.gf.toFixed(2) : ''} | ` +
      `${cl.ms.toFixed(1)} | ${(100 * cl.ms / fwd).toFixed(1)}% | ${gs} |`);
  }
  console.log(`| total | | ${gsum.toFixed(2)} | ${fwd.toFixed(1)} | | ` +
    `${(gsum / fwd * 1e3).toFixed(1)} |`);
}

main().catch((e) => {
  console.error(`ort_profile.js: ${e.message}`);
  process.exit(1);
});
