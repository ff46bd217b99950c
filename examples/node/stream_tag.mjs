#!/usr/bin/env node
// Tag sentences token by token with an rnnx streaming export, from Node.js.
//
//   echo '[["They", "are", "early", "birds", "."]]' | node stream_tag.mjs ../../export/pos-uni
//
// Each sentence starts from zero states; its tokens are pushed one at a time, as an app
// tagging while a person types would. stdout: JSON {"results": [{"tokens", "tags", "probs"}],
// "per_token_ms": median time of one push}. Needs model.stream.onnx, vocab.json, labels.json
// and export.json in the folder (rnnx export ... --streaming); onnxruntime-node only.

import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import ort from "onnxruntime-node";
import { TagStream } from "./stream.mjs";

function fail(message) {
  process.stderr.write(`stream_tag.mjs: ${message}\n`);
  process.exit(2);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    fail(`${file}: ${err.message}`);
  }
}

async function main() {
  const folder = process.argv[2];
  if (!folder || !fs.existsSync(path.join(folder, "export.json"))) {
    fail(`usage: node stream_tag.mjs EXPORT_FOLDER < sentences.json (${folder ? "no export.json in " + folder : "folder missing"})`);
  }
  const exportJson = readJson(path.join(folder, "export.json"));
  if (!exportJson.streaming) fail(`${folder} has no model.stream.onnx; export it with rnnx export ... --streaming`);
  const sentences = JSON.parse(fs.readFileSync(0, "utf8"));
  const tagger = await TagStream.create(ort, {
    exportJson,
    vocab: readJson(path.join(folder, "vocab.json")),
    labels: readJson(path.join(folder, "labels.json")).labels,
    model: path.join(folder, exportJson.streaming.file),
  });
  const results = [];
  const times = [];
  for (const tokens of sentences) {
    tagger.reset();
    const tags = [];
    const probs = [];
    for (const token of tokens) {
      const start = performance.now();
      const [[, tag, p]] = await tagger.push([token]);
      times.push(performance.now() - start);
      tags.push(tag);
      probs.push(p);
    }
    results.push({ tokens, tags, probs });
  }
  times.sort((a, b) => a - b);
  const median = times.length ? times[Math.floor(times.length / 2)] : null;
  process.stdout.write(JSON.stringify({ results, per_token_ms: median, pushes: times.length }) + "\n");
}

main().catch((err) => fail(err && err.message ? err.message : String(err)));
