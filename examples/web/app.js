// rnnx in the browser: tag (or classify) text as it is typed, with onnxruntime-web (WASM).
//
// Served by `rnnx web export/NAME`: /config.json says which text-model variants the export
// holds and which one to load by default (the smallest one known to be equivalent);
// ?model=FILE picks another. The model holds the vocabulary, the lowercasing and the label
// names (model.text.onnx: tokens in, labels out); this page only tokenises like the
// training corpus (tokenize.js) and draws the answer.
//
// A tagger exported with --streaming defaults to model.stream.onnx: the page keeps the recurrent
// state after every token, so a keystroke re-runs only the tokens that changed (usually the
// last one) from the state before them (TagStream from examples/node/stream.mjs, served as
// /stream.mjs). Bidirectional taggers and classifiers have no stream model.
//
// For tests and the curious, window.rnnx holds the state: ready, load timings, the last
// answer and every run's latency. #out's data-text is the text its answer belongs to.

import { tokenize } from "./tokenize.js";

const $ = (id) => document.getElementById(id);
const state = (window.rnnx = {
  ready: false, error: null, busy: false, pending: null, file: null, bytes: 0,
  load: {}, runs: [], last: null,
});

function fail(message) {
  state.error = message;
  document.body.dataset.state = "error";
  $("error").hidden = false;
  $("error").textContent = message;
}

function kb(n) {
  return n >= 1e5 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

function colour(index, count) {
  return `hsl(${Math.round((index * 360) / Math.max(count, 1))}, 70%, 85%)`;
}

async function getJSON(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

let ort, session, config, labels, inputName, streamer;
// streaming: the tokens pushed so far, their [tag, prob], and states[i] = the state after i tokens
const history = { tokens: [], tags: [], states: [null] };

async function load() {
  const t0 = performance.now();
  config = await getJSON("config.json");
  labels = config.labels.labels || [];
  const params = new URLSearchParams(location.search);
  const file = params.get("model") || config.default;
  const files = config.variants.map((v) => v.file).concat(config.stream ? [config.stream.file] : []);
  const streaming = config.stream !== null && file === config.stream.file;
  const variant = streaming ? { file, int8: false, format: "onnx", stream: true } : config.variants.find((v) => v.file === file);
  if (!variant) throw new Error(`${file} is not one of this export's text models: ${files.join(", ")}`);
  state.file = file;
  state.streaming = streaming;
  const t1 = performance.now();
  ort = await import("./ort/ort.wasm.min.mjs");
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  ort.env.wasm.numThreads = 1;
  const t2 = performance.now();
  const res = await fetch(`model/${file}`);
  if (!res.ok) throw new Error(`model/${file}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  state.bytes = bytes.byteLength;
  const t3 = performance.now();
  if (streaming) {
    const [{ TagStream }, exportJson, vocab] = await Promise.all([
      import("./stream.mjs"), getJSON("model/export.json"), getJSON("model/vocab.json")]);
    state.bytes += config.stream.vocab_bytes; // the word -> id table travels beside the stream model
    streamer = await TagStream.create(ort, { exportJson, vocab, labels, model: bytes });
  } else {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    inputName = session.inputNames[0];
    if (inputName !== "tokens") throw new Error(`${file} reads ${session.inputNames.join(", ")}; the page needs a text model (input "tokens")`);
  }
  const t4 = performance.now();
  await infer(config.task === "tagging" ? ["They", "are", "early", "birds", "."] : ["A", "moving", "film", "."]);
  const t5 = performance.now();
  state.load = {
    config_ms: t1 - t0, runtime_import_ms: t2 - t1, model_fetch_ms: t3 - t2, session_create_ms: t4 - t3,
    warmup_run_ms: t5 - t4, page_to_ready_ms: t5, bytes: state.bytes,
  };
  showHeader(variant);
}

function showHeader(variant) {
  $("name").textContent = config.name;
  const m = config.model || {};
  const kind = config.task === "tagging" ? "tagger: one tag per token" : "classifier: one label per text";
  $("task").textContent = `${m.bidirectional ? "bidirectional " : ""}${(m.cell || "").toUpperCase()} ${kind}`;
  const fmt = `${variant.int8 ? "int8" : "float32"}, ${variant.format === "ort" ? "ORT format" : "ONNX"}` +
    (variant.stream ? ", streaming with vocab.json" : "");
  const acc = variant.heldout_accuracy != null ? `, held-out accuracy ${(100 * variant.heldout_accuracy).toFixed(2)}%` : "";
  $("model").textContent = `${state.file} (${kb(state.bytes)}; ${fmt}${acc})`;
  $("model").title = state.file === config.default ? `default: ${config.default_reason}` : "chosen with ?model=";
  const l = state.load;
  $("load").textContent = `${l.page_to_ready_ms.toFixed(0)} ms to ready (model ${l.model_fetch_ms.toFixed(0)} ms, ` +
    `runtime + session ${(l.runtime_import_ms + l.session_create_ms).toFixed(0)} ms, first run ${l.warmup_run_ms.toFixed(1)} ms)`;
  const select = $("variant");
  const choices = config.variants.concat(config.stream ?
    [{ file: config.stream.file, bytes: config.stream.bytes + config.stream.vocab_bytes }] : []);
  for (const v of choices) {
    const opt = document.createElement("option");
    opt.value = v.file;
    opt.textContent = `${v.file} (${kb(v.bytes)})${v.file === config.default ? " default" : ""}`;
    opt.selected = v.file === state.file;
    select.append(opt);
  }
  select.disabled = false;
  select.addEventListener("change", () => { location.search = `?model=${encodeURIComponent(select.value)}`; });
  if (config.card) $("card").innerHTML = `<a href="model/${config.card}">model card (README.md)</a>`;
  if (config.task === "tagging") {
    $("legend").replaceChildren(...labels.map((name, i) => {
      const s = document.createElement("span");
      s.textContent = name;
      s.style.background = colour(i, labels.length);
      return s;
    }));
  }
}

async function inferStream(tokens) {
  // keep the tokens that did not change; re-run the rest, one step each, from the state before them
  let k = 0;
  while (k < tokens.length && k < history.tokens.length && tokens[k] === history.tokens[k]) k++;
  history.tokens.length = k;
  history.tags.length = k;
  history.states.length = k + 1;
  streamer.stream.state = history.states[k];
  streamer.stream.steps = k;
  const t = performance.now();
  for (let i = k; i < tokens.length; i++) {
    const [[, tag, p]] = await streamer.push([tokens[i]]);
    history.tokens.push(tokens[i]);
    history.tags.push([tag, p]);
    history.states.push(streamer.stream.state);
  }
  const ms = performance.now() - t;
  return { ms, steps: tokens.length - k, tokens, tags: history.tags.map((x) => x[0]), probs: history.tags.map((x) => x[1]) };
}

async function infer(tokens) {
  if (streamer) return inferStream(tokens);
  const input = new ort.Tensor("string", tokens, [1, tokens.length]);
  const t = performance.now();
  const out = await session.run({ [inputName]: input });
  const ms = performance.now() - t;
  const n = labels.length;
  if (config.task === "tagging") {
    const probs = out.probs.data;
    const tags = Array.from(out.tags.data);
    const p = tags.map((tag, i) => probs[i * n + labels.indexOf(tag)]);
    return { ms, tokens, tags, probs: p };
  }
  return { ms, tokens, label: out.label.data[0], probs: Array.from(out.probs.data) };
}

function render(text, answer) {
  const tokensEl = $("tokens");
  const labelEl = $("label");
  if (!answer) {
    tokensEl.replaceChildren();
    labelEl.replaceChildren();
  } else if (config.task === "tagging") {
    tokensEl.replaceChildren(...answer.tokens.map((word, i) => {
      const tag = answer.tags[i];
      const p = answer.probs[i];
      const span = document.createElement("span");
      span.className = p < 0.5 ? "tok unsure" : "tok";
      span.dataset.tag = tag;
      span.dataset.prob = String(p);
      span.dataset.tip = `${tag} ${(100 * p).toFixed(1)}%`;
      span.style.background = colour(labels.indexOf(tag), labels.length);
      const w = document.createElement("span");
      w.className = "w";
      w.textContent = word;
      const t = document.createElement("span");
      t.className = "t";
      t.textContent = tag;
      span.append(w, t);
      return span;
    }));
  } else {
    tokensEl.replaceChildren(...answer.tokens.map((word) => {
      const span = document.createElement("span");
      span.className = "tok";
      span.innerHTML = `<span class="w"></span>`;
      span.firstChild.textContent = word;
      return span;
    }));
    const verdict = document.createElement("div");
    verdict.className = "verdict";
    verdict.dataset.label = answer.label;
    verdict.textContent = answer.label;
    const rows = labels.map((name, i) => {
      const row = document.createElement("div");
      row.className = name === answer.label ? "row best" : "row";
      row.dataset.label = name;
      row.dataset.prob = String(answer.probs[i]);
      row.innerHTML = `<span class="name"></span><span class="bar"><span></span></span><span class="p"></span>`;
      row.children[0].textContent = name;
      row.children[1].firstChild.style.width = `${(100 * answer.probs[i]).toFixed(1)}%`;
      row.children[2].textContent = `${(100 * answer.probs[i]).toFixed(1)}%`;
      return row;
    });
    labelEl.replaceChildren(verdict, ...rows);
  }
  $("out").dataset.text = text;
}

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function update(text) {
  const t = performance.now();
  const tokens = tokenize(text, { contractions: config.tokenizer.contractions !== false });
  const answer = tokens.length ? await infer(tokens) : null;
  render(text, answer);
  const total = performance.now() - t;
  state.last = answer ? { text, ...answer } : { text, tokens: [] };
  if (answer) {
    const steps = answer.steps ?? tokens.length;
    state.runs.push({ tokens: tokens.length, steps, model_ms: answer.ms, total_ms: total });
    const recent = state.runs.slice(-50);
    const what = streamer ? `${steps} of ${tokens.length} tokens run` : `${tokens.length} tokens`;
    $("latency").textContent = `${answer.ms.toFixed(2)} ms model, ${total.toFixed(2)} ms with tokenising and drawing ` +
      `(${what}; median of last ${recent.length}: ${median(recent.map((r) => r.model_ms)).toFixed(2)} ms)`;
  }
}

async function pump() {
  // one run at a time; keystrokes typed meanwhile collapse into one run on the latest text
  if (state.busy) return;
  state.busy = true;
  try {
    while (state.pending !== null) {
      const text = state.pending;
      state.pending = null;
      await update(text);
    }
  } catch (err) {
    fail(`inference failed: ${err && err.message ? err.message : err}`);
  } finally {
    state.busy = false;
  }
}

load().then(() => {
  const box = $("text");
  box.disabled = false;
  box.addEventListener("input", () => { state.pending = box.value; pump(); });
  state.ready = true;
  document.body.dataset.state = "ready";
  if (box.value) { state.pending = box.value; pump(); }
  box.focus();
}).catch((err) => fail(`could not load the model: ${err && err.message ? err.message : err}`));
