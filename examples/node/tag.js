#!/usr/bin/env node
// Tag (or classify) tokenised sentences with an rnnx self-contained model, from Node.js.
//
//   echo '[["They", "are", "early", "birds", "."]]' | node tag.js ../../export/pos/model.text.onnx
//
// stdin:  a JSON array; each item is a token list (["They", "are"]) or a string that is
//         split on whitespace ("They are"). Separate punctuation from words yourself
//         ("birds ." not "birds."), the way the training corpus is tokenised.
// stdout: JSON {"task": "tagging"|"classification", "results": [...]}, one result per item:
//         tagging:        {"tokens": [...], "tags": [...], "probs": [[...per label...] per token]}
//         classification: {"tokens": [...], "label": "pos", "probs": [...per label...]}
//
// The model holds the vocabulary, the lowercasing and the label names: onnxruntime-node
// is the only dependency. Sentences are padded on the right with "" into one batch.

"use strict";

const fs = require("fs");
const ort = require("onnxruntime-node");

function fail(message) {
  process.stderr.write(`tag.js: ${message}\n`);
  process.exit(2);
}

function readSentences(text) {
  let items;
  try {
    items = JSON.parse(text);
  } catch (err) {
    fail(`stdin is not JSON (${err.message}); send e.g. [["They", "are", "early", "birds", "."]]`);
  }
  if (!Array.isArray(items)) fail("stdin must be a JSON array of token lists or strings");
  return items.map((item, i) => {
    const tokens = typeof item === "string" ? item.split(/\s+/).filter((t) => t.length > 0) : item;
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string" && t.length > 0)) {
      fail(`item ${i + 1} must be a list of non-empty strings or a string ("" is reserved for padding)`);
    }
    return tokens;
  });
}

function padBatch(sentences) {
  const width = Math.max(0, ...sentences.map((s) => s.length));
  const data = [];
  for (const tokens of sentences) {
    for (let t = 0; t < width; t++) data.push(t < tokens.length ? tokens[t] : "");
  }
  return new ort.Tensor("string", data, [sentences.length, width]);
}

function rows(tensor, count, width) {
  // split a flat Float32Array into `count` plain arrays of `width` numbers
  const out = [];
  for (let r = 0; r < count; r++) out.push(Array.from(tensor.data.subarray(r * width, (r + 1) * width)));
  return out;
}

async function main() {
  const modelPath = process.argv[2];
  if (!modelPath || !fs.existsSync(modelPath)) {
    fail(`usage: node tag.js PATH/model.text.onnx < sentences.json (model ${modelPath ? "not found: " + modelPath : "missing"})`);
  }
  const sentences = readSentences(fs.readFileSync(0, "utf8"));
  if (sentences.length === 0) {
    process.stdout.write(JSON.stringify({ task: null, results: [] }) + "\n");
    return;
  }
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionProviders: ["cpu"],
  });
  if (!session.inputNames.includes("tokens")) {
    fail(`${modelPath} takes ${session.inputNames.join(", ")}; use a model.text.onnx (input "tokens")`);
  }
  const input = padBatch(sentences);
  const out = await session.run({ tokens: input });
  const width = input.dims[1];
  const results = [];
  if (out.tags) {
    const labels = out.probs.dims[2];
    sentences.forEach((tokens, r) => {
      const tags = Array.from(out.tags.data.slice(r * width, r * width + tokens.length));
      const probs = rows(out.probs, sentences.length * width, labels).slice(r * width, r * width + tokens.length);
      results.push({ tokens, tags, probs });
    });
    process.stdout.write(JSON.stringify({ task: "tagging", results }) + "\n");
  } else {
    const labels = out.probs.dims[1];
    const probs = rows(out.probs, sentences.length, labels);
    sentences.forEach((tokens, r) => results.push({ tokens, label: out.label.data[r], probs: probs[r] }));
    process.stdout.write(JSON.stringify({ task: "classification", results }) + "\n");
  }
}

main().catch((err) => fail(err && err.message ? err.message : String(err)));
