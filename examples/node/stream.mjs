// Streaming inference with an rnnx model.stream.onnx: push tokens (or frames) as they arrive.
//
// The same API as Python's pipeline.runtime.stream: a Stream keeps each recurrent layer's
// state (inputs state_in.<layer>.<h|c>, outputs state_out.<layer>.<h|c>) between calls, so a
// push costs the new steps only. The module takes the onnxruntime package as an argument,
// so it runs with onnxruntime-node and with onnxruntime-web alike:
//
//   import * as ort from "onnxruntime-node";            // or "onnxruntime-web"
//   import { Stream, TagStream } from "./stream.mjs";
//   const stream = await Stream.create(ort, "export/kws/model.stream.onnx");
//   const out = await stream.push({ frames: new ort.Tensor("float32", frame, [1, 1, 40]) });
//   stream.reset();
//
//   const tagger = await TagStream.create(ort, "export/pos-uni", { readJson, sessionFrom });
//   await tagger.push(["They", "are"]);    // [["They", "PRON"], ["are", "VERB"]]

const STATE_IN = "state_in.";
const STATE_OUT = "state_out.";

export class Stream {
  constructor(ort, session, { batch = 1, units = {} } = {}) {
    this.ort = ort;
    this.session = session;
    this.batch = batch;
    this.stateNames = session.inputNames.filter((n) => n.startsWith(STATE_IN));
    if (this.stateNames.length === 0) {
      throw new Error("the model has no state_in.* inputs: export it with `rnnx export ... --streaming`");
    }
    this.inputNames = session.inputNames.filter((n) => !n.startsWith(STATE_IN));
    this.outputNames = session.outputNames.filter((n) => !n.startsWith(STATE_OUT));
    this.units = { ...units }; // state sizes; read from the model where the runtime says, else given
    this.steps = 0;
  }

  static async create(ort, model, { batch = 1, threads = 1, units = {} } = {}) {
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    return new Stream(ort, session, { batch, units });
  }

  // Start over from zero states (the first push learns each state's size from state_out).
  reset() {
    this.state = null;
    this.steps = 0;
  }

  zeros(name) {
    const units = this.units[name];
    return new this.ort.Tensor("float32", new Float32Array(this.batch * units), [this.batch, units]);
  }

  // feeds: {inputName: ort.Tensor [batch, chunk, ...]}; returns {outputName: ort.Tensor} for the chunk.
  async push(feeds) {
    for (const name of this.inputNames) {
      if (!(name in feeds)) throw new Error(`push needs input ${name} (the model reads ${this.inputNames})`);
    }
    if (!this.state) {
      this.state = {};
      for (const name of this.stateNames) {
        if (!(name in this.units)) this.units[name] = this.unitsOf(name);
        this.state[name] = this.zeros(name);
      }
    }
    const out = await this.session.run({ ...feeds, ...this.state });
    const next = {};
    for (const name of this.stateNames) next[name] = out[STATE_OUT + name.slice(STATE_IN.length)];
    this.state = next;
    this.steps += feeds[this.inputNames[0]].dims[1];
    const result = {};
    for (const name of this.outputNames) result[name] = out[name];
    return result;
  }

  // A state's size from the model's input metadata, where the runtime exposes it.
  unitsOf(name) {
    const meta = this.session.inputMetadata;
    if (meta) {
      const entry = Array.isArray(meta) ? meta.find((m) => m.name === name) : meta[name];
      const dims = entry && (entry.shape || entry.dimensions);
      if (dims && Number.isInteger(dims[1])) return dims[1];
    }
    throw new Error(`the size of ${name} is unknown: pass {units: {"${name}": N}} (export.json lists them)`);
  }
}

// An rnnx tagger export folder: tokens in as they arrive, [token, tag] pairs out.
export class TagStream {
  constructor(ort, stream, vocab, labels) {
    this.ort = ort;
    this.stream = stream;
    this.lowercase = vocab.lowercase;
    this.index = new Map();
    vocab.words.forEach((w, i) => {
      if (i > 1) this.index.set(w, i); // 0 = padding, 1 = unknown word; "<pad>" typed in a text is unknown
    });
    this.labels = labels;
  }

  // files: {exportJson, vocab, labels, model}: parsed JSON objects and the model (path or bytes).
  static async create(ort, files, { threads = 1 } = {}) {
    const info = files.exportJson.streaming;
    if (!info) throw new Error("the export has no model.stream.onnx: export it with `rnnx export ... --streaming`");
    const session = await ort.InferenceSession.create(files.model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const units = Object.fromEntries(info.states.map((s) => [s.name, s.units]));
    const stream = new Stream(ort, session, { units });
    const labels = Array.isArray(files.labels) ? files.labels : files.labels.names || files.labels.labels;
    return new TagStream(ort, stream, files.vocab, labels);
  }

  reset() {
    this.stream.reset();
  }

  encode(tokens) {
    return tokens.map((t) => this.index.get(this.lowercase ? t.toLowerCase() : t) ?? 1);
  }

  async push(tokens) {
    if (typeof tokens === "string") throw new Error("push takes a list of tokens, e.g. push(['They', 'are'])");
    if (tokens.length === 0) return [];
    const ids = BigInt64Array.from(this.encode(tokens), (i) => BigInt(i));
    const out = await this.stream.push({ ids: new this.ort.Tensor("int64", ids, [1, tokens.length]) });
    const probs = out.probs;
    const width = probs.dims[2];
    return tokens.map((token, t) => {
      let best = 0;
      for (let k = 1; k < width; k++) if (probs.data[t * width + k] > probs.data[t * width + best]) best = k;
      return [token, this.labels[best], probs.data[t * width + best]];
    });
  }
}
