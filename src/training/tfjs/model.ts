/**
 * A trainable TensorFlow.js model interpreted from an ONNX CNN graph (NCHW semantics, run in NHWC
 * as tfjs convs want). Parameters keep their ONNX layout (conv weights OIHW = the reference's
 * matrix M) in a JS mirror that is the source of truth: the optimizer, the D.U.B. regularizer,
 * the masks and the writers all work on the mirrors, and `upload` copies them into the variables.
 */

import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../core/errors';
import { numel } from '../../core/model';
import type { ModelGraph } from '../../core/model';
import { openFileSource } from '../../formats/byteSource';
import { openModel } from '../../formats/registry';
import { parseOnnxModel } from '../../formats/onnx/schema';
import type { OnnxAttribute, OnnxNode } from '../../formats/onnx/schema';
import { Rng } from '../datasets/rng';

/** An initializer: logical row-major values in its ONNX shape. */
export interface GraphInitializer {
	readonly shape: readonly number[];
	readonly values: Float32Array;
	/** Integer-typed (shapes, axes): a constant, never a parameter. */
	readonly integer: boolean;
}

/** Everything the interpreter needs from a graph; built from an ONNX file or in code (benchmarks). */
export interface GraphSpec {
	readonly name: string;
	readonly nodes: readonly OnnxNode[];
	readonly initializers: ReadonlyMap<string, GraphInitializer>;
	readonly inputName: string;
	/** C, H, W of one input (undefined: dynamic). */
	readonly inputShape: readonly (number | undefined)[];
	readonly outputName: string;
	/** Conv weight initializer → the layer name users know (as the analysis names it). */
	readonly layerNames: ReadonlyMap<string, string>;
}

/** Supported ONNX ops (an unsupported one is a UsageError naming it). */
export const supportedOps: readonly string[] = [
	'Conv', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool',
	'Add', 'Concat', 'Gemm', 'MatMul', 'Flatten', 'Reshape', 'Dropout', 'Identity', 'Constant', 'Softmax', 'LogSoftmax',
];

export type ParamRole = 'conv-weight' | 'linear-weight' | 'bias' | 'bn-scale' | 'bn-bias' | 'bn-mean' | 'bn-var';

/** One parameter or buffer of the model. */
export interface ModelParam {
	/** The initializer name (what writers update). */
	readonly name: string;
	readonly shape: readonly number[];
	readonly role: ParamRole;
	/** The JS mirror (source of truth), ONNX layout. */
	readonly values: Float32Array;
	readonly variable: tf.Variable;
	/** Running statistics are buffers, never trained. */
	readonly isBuffer: boolean;
	/** conv-weight: the layer name, O and K = C·kh·kw (the matrix M = values as O × K). */
	readonly layer?: string;
	readonly outChannels?: number;
	readonly fanIn?: number;
	/** The conv this bias belongs to (for 'conv' fine-tunes). */
	readonly convBias?: boolean;
}

/** Batch statistics a training forward pass produced for one BN node (for the running averages). */
export interface BatchNormStats {
	readonly mean: ModelParam;
	readonly variance: ModelParam;
	readonly momentum: number;
	/** Elements per channel in this batch (for the unbiased running variance). */
	readonly count: number;
	readonly batchMean: tf.Tensor;
	readonly batchVariance: tf.Tensor;
}

interface Value {
	readonly t: tf.Tensor;
	/** Rank-4 tensors are held NHWC; this is true for them. */
	readonly nhwc: boolean;
}

const attr = (node: OnnxNode, name: string): OnnxAttribute | undefined => node.attributes.get(name);
const attrInt = (node: OnnxNode, name: string, fallback: number): number => attr(node, name)?.i ?? fallback;
const attrFloat = (node: OnnxNode, name: string, fallback: number): number => attr(node, name)?.f ?? fallback;
const attrInts = (node: OnnxNode, name: string): readonly number[] | undefined => attr(node, name)?.ints;

function describe(node: OnnxNode): string {
	return node.name ? `'${node.name}'` : `#${node.outputs[0] ?? '?'}`;
}

/** Reads an ONNX model into a GraphSpec (all initializers loaded) and keeps the ModelGraph for writing. */
export async function loadOnnxGraphSpec(path: string): Promise<{ spec: GraphSpec; graph: ModelGraph }> {
	if (!path.toLowerCase().endsWith('.onnx')) {
		const graph = await openModel(path);
		const format = graph.format;
		await graph.close();
		if (format !== 'onnx') {
			throw new UsageError(`${path}: the tfjs engine trains ONNX graphs and TF.js layers models (model.json); a ${format} file holds weights without the graph (export it with torch.onnx.export, or use the PyTorch engine).`);
		}
	}
	const source = await openFileSource(path);
	let model;
	try {
		model = await parseOnnxModel(source);
	} finally {
		await source.close();
	}
	const graph = await openModel(path);
	try {
		const byName = new Map(graph.tensors.map((t) => [t.name, t]));
		const initializers = new Map<string, GraphInitializer>();
		for (const info of model.initializers) {
			const tensor = byName.get(info.name);
			if (!tensor) continue;
			initializers.set(info.name, { shape: tensor.shape, values: Float32Array.from(await tensor.load()), integer: !/^(float|bfloat)/.test(tensor.dtype) });
		}
		const input = model.inputs.find((i) => !initializers.has(i.name));
		if (!input) {
			throw new UsageError(`${path}: the graph has no input besides its weights.`);
		}
		const dims = input.dims ?? [];
		if (dims.length !== 4) {
			throw new UsageError(`${path}: the tfjs engine trains image models with an N×C×H×W input; '${input.name}' has ${dims.length ? `rank ${dims.length}` : 'no known shape'}.`);
		}
		const output = model.outputs[0];
		if (!output) {
			throw new UsageError(`${path}: the graph declares no output.`);
		}
		const layerNames = new Map<string, string>();
		for (const layer of graph.layers) {
			if (layer.kind === 'conv') layerNames.set(layer.tensor.name, layer.name);
		}
		const spec: GraphSpec = { name: path, nodes: model.nodes, initializers, inputName: input.name, inputShape: dims.slice(1), outputName: output.name, layerNames };
		return { spec, graph };
	} catch (ex) {
		await graph.close();
		throw ex;
	}
}

/** The interpreted model. Call `dispose()` when done (it owns tf variables). */
export class TrainableModel {
	readonly params: ModelParam[] = [];
	/** Conv weights in node order (what the regularizer, pruning and ADC figures see). */
	readonly convs: ModelParam[] = [];
	/** Batch norms with running statistics, in node order. */
	readonly batchNorms: { readonly mean: ModelParam; readonly variance: ModelParam; readonly momentum: number }[] = [];
	private readonly byName = new Map<string, ModelParam>();
	private readonly constants = new Map<string, number[]>();
	private readonly nodes: OnnxNode[];
	private readonly alias = new Map<string, string>();
	/** The node whose input is the logits, when the graph ends in Softmax/LogSoftmax. */
	private readonly logitsName: string;
	readonly notes: string[] = [];
	/** Classes the model outputs, when the last layer's weight tells. */
	readonly outputs: number | undefined;

	constructor(readonly spec: GraphSpec) {
		this.nodes = [];
		for (const node of spec.nodes) {
			if (node.domain !== '' && node.domain !== 'ai.onnx') {
				throw new UsageError(`${spec.name}: node ${describe(node)} uses op '${node.opType}' of domain '${node.domain}', which the tfjs engine cannot train.`);
			}
			if (!supportedOps.includes(node.opType)) {
				throw new UsageError(`${spec.name}: the tfjs engine cannot train op '${node.opType}' (node ${describe(node)}); supported: ${supportedOps.join(', ')}.`);
			}
			if (node.opType === 'Identity' && spec.initializers.has(this.resolve(node.inputs[0]))) {
				this.alias.set(node.outputs[0], this.resolve(node.inputs[0]));
				continue;
			}
			if (node.opType === 'Constant') {
				const t = attr(node, 'value')?.t;
				if (!t?.values) {
					throw new UsageError(`${spec.name}: Constant node ${describe(node)} holds no small tensor value the tfjs engine can read.`);
				}
				this.constants.set(node.outputs[0], [...t.values]);
				continue;
			}
			this.nodes.push(node);
		}
		for (const [name, init] of spec.initializers) {
			if (init.integer) this.constants.set(name, Array.from(init.values));
		}
		let logits = spec.outputName;
		const last = this.nodes[this.nodes.length - 1];
		if (last && (last.opType === 'Softmax' || last.opType === 'LogSoftmax') && last.outputs[0] === spec.outputName) {
			logits = last.inputs[0];
			this.nodes.pop();
			this.notes.push(`The graph ends in ${last.opType}; training uses its input as the logits.`);
		}
		this.logitsName = logits;
		this.createParams();
		const lastLinear = [...this.params].reverse().find((p) => p.role === 'linear-weight');
		const lastNode = [...this.nodes].reverse().find((n) => n.opType === 'Gemm' || n.opType === 'MatMul');
		this.outputs = lastLinear && lastNode ? (lastNode.opType === 'Gemm' && attrInt(lastNode, 'transB', 0) === 1 ? lastLinear.shape[0] : lastLinear.shape[1]) : undefined;
	}

	private resolve(name: string): string {
		return this.alias.get(name) ?? name;
	}

	private createParams(): void {
		const roles = new Map<string, { role: ParamRole; node: OnnxNode }>();
		const claim = (name: string | undefined, role: ParamRole, node: OnnxNode) => {
			if (!name) return;
			const resolved = this.resolve(name);
			const init = this.spec.initializers.get(resolved);
			if (init && !init.integer && !roles.has(resolved)) roles.set(resolved, { role, node });
		};
		for (const node of this.nodes) {
			switch (node.opType) {
				case 'Conv': claim(node.inputs[1], 'conv-weight', node); claim(node.inputs[2], 'bias', node); break;
				case 'Gemm': claim(node.inputs[1], 'linear-weight', node); claim(node.inputs[2], 'bias', node); break;
				case 'MatMul': claim(node.inputs[1], 'linear-weight', node); break;
				case 'BatchNormalization':
					claim(node.inputs[1], 'bn-scale', node); claim(node.inputs[2], 'bn-bias', node);
					claim(node.inputs[3], 'bn-mean', node); claim(node.inputs[4], 'bn-var', node);
					break;
				case 'Add': claim(node.inputs[0], 'bias', node); claim(node.inputs[1], 'bias', node); break;
				default: break;
			}
		}
		for (const [name, { role, node }] of roles) {
			const init = this.spec.initializers.get(name)!;
			const shape = [...init.shape];
			const values = Float32Array.from(init.values);
			const isBuffer = role === 'bn-mean' || role === 'bn-var';
			const variable = tf.variable(tf.tensor(values, shape, 'float32'), !isBuffer);
			let param: ModelParam = { name, shape, role, values, variable, isBuffer };
			if (role === 'conv-weight') {
				if (shape.length !== 4) {
					throw new UsageError(`${this.spec.name}: Conv node ${describe(node)} has a ${shape.length}-D weight; the tfjs engine trains 2-D convolutions.`);
				}
				param = { ...param, layer: this.spec.layerNames.get(name) ?? name.replace(/[./]weight$/, ''), outChannels: shape[0], fanIn: shape[1] * shape[2] * shape[3] };
				this.convs.push(param);
			} else if (role === 'bias' && node.opType === 'Conv') {
				param = { ...param, convBias: true };
			}
			this.params.push(param);
			this.byName.set(name, param);
		}
		for (const node of this.nodes) {
			if (node.opType !== 'BatchNormalization') continue;
			const mean = this.byName.get(this.resolve(node.inputs[3] ?? ''));
			const variance = this.byName.get(this.resolve(node.inputs[4] ?? ''));
			if (mean?.role === 'bn-mean' && variance?.role === 'bn-var' && !this.batchNorms.some((b) => b.mean === mean)) {
				this.batchNorms.push({ mean, variance, momentum: attrFloat(node, 'momentum', 0.9) });
			}
		}
	}

	/** Trainable parameters (buffers excluded). */
	trainables(which: 'all' | 'conv' = 'all'): ModelParam[] {
		return this.params.filter((p) => !p.isBuffer && (which === 'all' || p.role === 'conv-weight' || p.convBias === true));
	}

	/** Buffers (BN running statistics). */
	buffers(): ModelParam[] {
		return this.params.filter((p) => p.isBuffer);
	}

	/** Copies mirrors into the tf variables (all parameters, or the ones given). */
	upload(params: readonly ModelParam[] = this.params): void {
		for (const p of params) {
			const t = tf.tensor(p.values, p.shape as number[], 'float32');
			p.variable.assign(t);
			t.dispose();
		}
	}

	/** He-uniform weights, zero biases, identity batch norms (for training from scratch). */
	reinitialize(seed: number): void {
		const rng = new Rng(seed);
		for (const p of this.params) {
			switch (p.role) {
				case 'conv-weight':
				case 'linear-weight': {
					const fanIn = p.role === 'conv-weight' ? p.fanIn! : numel(p.shape) / (this.isTransposedLinear(p) ? p.shape[0] : p.shape[1]);
					const bound = Math.sqrt(6 / fanIn);
					for (let i = 0; i < p.values.length; i++) p.values[i] = (rng.next() * 2 - 1) * bound;
					break;
				}
				case 'bn-scale':
				case 'bn-var':
					p.values.fill(1);
					break;
				default:
					p.values.fill(0);
			}
		}
		this.upload();
	}

	private isTransposedLinear(p: ModelParam): boolean {
		const node = this.nodes.find((n) => this.resolve(n.inputs[1] ?? '') === p.name);
		return node?.opType === 'Gemm' && attrInt(node, 'transB', 0) === 1;
	}

	param(name: string): ModelParam | undefined {
		return this.byName.get(name);
	}

	/**
	 * Logits [N, classes] for an NHWC batch. In training mode batch norms use batch statistics
	 * (pushed to `bnStats`, kept out of the enclosing tidy) and dropout is active.
	 */
	forward(x: tf.Tensor4D, training: boolean, bnStats?: BatchNormStats[]): tf.Tensor2D {
		const values = new Map<string, Value>();
		values.set(this.spec.inputName, { t: x, nhwc: true });
		const get = (name: string, node: OnnxNode): Value => {
			const resolved = this.resolve(name);
			const v = values.get(resolved);
			if (v) return v;
			const p = this.byName.get(resolved);
			if (p) return { t: p.variable, nhwc: false };
			const c = this.constants.get(resolved);
			if (c) return { t: tf.tensor(c), nhwc: false };
			throw new UsageError(`${this.spec.name}: node ${describe(node)} reads '${name}', which no earlier node produces.`);
		};
		for (const node of this.nodes) {
			const out = this.run(node, get, training, bnStats);
			values.set(node.outputs[0], out);
		}
		const logits = values.get(this.resolve(this.logitsName));
		if (!logits) {
			throw new UsageError(`${this.spec.name}: the graph output '${this.logitsName}' is not computed by any node.`);
		}
		if (logits.t.rank !== 2) {
			throw new UsageError(`${this.spec.name}: the output has shape [${logits.t.shape.join(', ')}]; the tfjs engine needs logits of shape [N, classes].`);
		}
		return logits.t as tf.Tensor2D;
	}

	private constant(name: string | undefined, node: OnnxNode, what: string): number[] {
		const c = name ? this.constants.get(this.resolve(name)) : undefined;
		if (!c) {
			throw new UsageError(`${this.spec.name}: node ${describe(node)} (${node.opType}) takes its ${what} from a computed value; the tfjs engine needs a constant there.`);
		}
		return c;
	}

	private run(node: OnnxNode, get: (name: string, node: OnnxNode) => Value, training: boolean, bnStats?: BatchNormStats[]): Value {
		const input = (i: number) => get(node.inputs[i], node);
		const image = (i: number): tf.Tensor4D => {
			const v = input(i);
			if (v.t.rank !== 4) {
				throw new UsageError(`${this.spec.name}: ${node.opType} node ${describe(node)} needs an image tensor (N×C×H×W), got rank ${v.t.rank}.`);
			}
			return v.t as tf.Tensor4D;
		};
		switch (node.opType) {
			case 'Conv': {
				const x = image(0);
				const w = input(1).t as tf.Tensor4D;
				const group = attrInt(node, 'group', 1);
				if (group !== 1) {
					throw new UsageError(`${this.spec.name}: Conv node ${describe(node)} is grouped (group=${group}); the tfjs engine trains dense convolutions only (wasm has no depthwise-conv gradient).`);
				}
				const dilations = attrInts(node, 'dilations') ?? [1, 1];
				if (dilations.some((d) => d !== 1)) {
					throw new UsageError(`${this.spec.name}: Conv node ${describe(node)} is dilated; tfjs has no gradient for dilated convolutions.`);
				}
				const strides = (attrInts(node, 'strides') ?? [1, 1]) as [number, number];
				const filter = tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D;
				let y = tf.conv2d(x, filter, strides, this.convPad(node), 'NHWC');
				if (node.inputs[2]) y = tf.add(y, input(2).t);
				return { t: y, nhwc: true };
			}
			case 'BatchNormalization': {
				const v = input(0);
				const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => input(i).t as tf.Tensor1D);
				const epsilon = attrFloat(node, 'epsilon', 1e-5);
				if (v.t.rank !== 4 && v.t.rank !== 2) {
					throw new UsageError(`${this.spec.name}: BatchNormalization node ${describe(node)} on a rank-${v.t.rank} tensor is not supported.`);
				}
				if (!training) {
					return { t: tf.batchNorm(v.t as tf.Tensor4D, mean, variance, bias, scale, epsilon), nhwc: v.nhwc };
				}
				const axes = v.t.rank === 4 ? [0, 1, 2] : [0];
				const moments = tf.moments(v.t, axes);
				const y = tf.batchNorm(v.t as tf.Tensor4D, moments.mean as tf.Tensor1D, moments.variance as tf.Tensor1D, bias, scale, epsilon);
				const meanParam = this.byName.get(this.resolve(node.inputs[3]));
				const varParam = this.byName.get(this.resolve(node.inputs[4]));
				if (bnStats && meanParam && varParam) {
					bnStats.push({
						mean: meanParam, variance: varParam, momentum: attrFloat(node, 'momentum', 0.9),
						count: v.t.size / v.t.shape[v.t.rank - 1], batchMean: tf.keep(moments.mean), batchVariance: tf.keep(moments.variance),
					});
				}
				return { t: y, nhwc: v.nhwc };
			}
			case 'Relu': { const v = input(0); return { t: tf.relu(v.t), nhwc: v.nhwc }; }
			case 'LeakyRelu': { const v = input(0); return { t: tf.leakyRelu(v.t, attrFloat(node, 'alpha', 0.01)), nhwc: v.nhwc }; }
			case 'Sigmoid': { const v = input(0); return { t: tf.sigmoid(v.t), nhwc: v.nhwc }; }
			case 'Tanh': { const v = input(0); return { t: tf.tanh(v.t), nhwc: v.nhwc }; }
			case 'Clip': {
				const v = input(0);
				const lo = node.inputs[1] ? this.constant(node.inputs[1], node, 'min')[0] : attrFloat(node, 'min', -3.4e38);
				const hi = node.inputs[2] ? this.constant(node.inputs[2], node, 'max')[0] : attrFloat(node, 'max', 3.4e38);
				return { t: tf.clipByValue(v.t, lo, hi), nhwc: v.nhwc };
			}
			case 'MaxPool':
			case 'AveragePool': {
				const x = image(0);
				const kernel = attrInts(node, 'kernel_shape') as [number, number];
				const strides = (attrInts(node, 'strides') ?? [1, 1]) as [number, number];
				if ((attrInts(node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) {
					throw new UsageError(`${this.spec.name}: ${node.opType} node ${describe(node)} is dilated; not supported.`);
				}
				const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
				const ceil = attrInt(node, 'ceil_mode', 0) === 1;
				const autoPad = attr(node, 'auto_pad')?.s ?? 'NOTSET';
				let pad: 'same' | 'valid' | number | backend_util_ExplicitPadding;
				let xin = x;
				if (autoPad === 'SAME_UPPER') pad = 'same';
				else if (autoPad === 'VALID') pad = 'valid';
				else if (autoPad !== 'NOTSET' && autoPad !== '') throw new UsageError(`${this.spec.name}: ${node.opType} node ${describe(node)} uses auto_pad=${autoPad}; not supported.`);
				else if (pads.every((p) => p === 0)) pad = 0;
				else if (node.opType === 'AveragePool') {
					if (attrInt(node, 'count_include_pad', 0) !== 1) {
						throw new UsageError(`${this.spec.name}: AveragePool node ${describe(node)} pads without counting the padding (count_include_pad=0); not supported.`);
					}
					xin = tf.pad(x, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]]);
					pad = 0;
				} else if (pads[0] === pads[1] && pads[1] === pads[2] && pads[2] === pads[3]) pad = pads[0];
				else pad = [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]];
				if (ceil && typeof pad !== 'number') {
					throw new UsageError(`${this.spec.name}: ${node.opType} node ${describe(node)} combines ceil_mode with uneven padding; not supported.`);
				}
				const rounding = ceil ? 'ceil' : typeof pad === 'number' ? 'floor' : undefined;
				const y = node.opType === 'MaxPool' ? tf.maxPool(xin, kernel, strides, pad, rounding) : tf.avgPool(xin, kernel, strides, pad, rounding);
				return { t: y, nhwc: true };
			}
			case 'GlobalAveragePool': return { t: tf.mean(image(0), [1, 2], true), nhwc: true };
			case 'GlobalMaxPool': return { t: tf.max(image(0), [1, 2], true), nhwc: true };
			case 'Add': {
				let a = input(0);
				let b = input(1);
				if (!a.nhwc && b.nhwc) [a, b] = [b, a];
				return { t: tf.add(a.t, this.broadcastable(b, a, node)), nhwc: a.nhwc };
			}
			case 'Concat': {
				const parts = node.inputs.map((_, i) => input(i));
				let axis = attrInt(node, 'axis', 1);
				const rank = parts[0].t.rank;
				if (axis < 0) axis += rank;
				if (rank === 4 && parts.every((p) => p.nhwc)) axis = [0, 3, 1, 2][axis];
				return { t: tf.concat(parts.map((p) => p.t), axis), nhwc: parts[0].nhwc };
			}
			case 'Gemm': {
				const a = input(0).t as tf.Tensor2D;
				if (attrInt(node, 'transA', 0) === 1) {
					throw new UsageError(`${this.spec.name}: Gemm node ${describe(node)} has transA=1; not supported.`);
				}
				if (a.rank !== 2) {
					throw new UsageError(`${this.spec.name}: Gemm node ${describe(node)} needs a 2-D input, got rank ${a.rank} (is a Flatten missing?).`);
				}
				const b = input(1).t as tf.Tensor2D;
				let y: tf.Tensor = tf.matMul(a, b, false, attrInt(node, 'transB', 0) === 1);
				const alpha = attrFloat(node, 'alpha', 1);
				if (alpha !== 1) y = tf.mul(y, alpha);
				if (node.inputs[2]) {
					const beta = attrFloat(node, 'beta', 1);
					const c = input(2).t;
					y = tf.add(y, beta === 1 ? c : tf.mul(c, beta));
				}
				return { t: y, nhwc: false };
			}
			case 'MatMul': {
				const a = input(0).t;
				if (a.rank !== 2) {
					throw new UsageError(`${this.spec.name}: MatMul node ${describe(node)} needs a 2-D input, got rank ${a.rank}.`);
				}
				return { t: tf.matMul(a as tf.Tensor2D, input(1).t as tf.Tensor2D), nhwc: false };
			}
			case 'Flatten': {
				const v = input(0);
				const axis = attrInt(node, 'axis', 1);
				const t = toNchw(v);
				if (axis !== 1 && t.rank > 2) {
					throw new UsageError(`${this.spec.name}: Flatten node ${describe(node)} with axis=${axis}; only axis=1 is supported.`);
				}
				return { t: tf.reshape(t, [t.shape[0], -1]), nhwc: false };
			}
			case 'Reshape': {
				const v = input(0);
				const t = toNchw(v);
				const target = this.constant(node.inputs[1], node, 'shape').map((d, i) => (d === 0 && attrInt(node, 'allowzero', 0) === 0 ? t.shape[i] : d));
				const y = tf.reshape(t, target);
				return y.rank === 4 ? { t: tf.transpose(y, [0, 2, 3, 1]), nhwc: true } : { t: y, nhwc: false };
			}
			case 'Dropout': {
				const v = input(0);
				const ratio = node.inputs[1] ? this.constant(node.inputs[1], node, 'ratio')[0] : attrFloat(node, 'ratio', 0.5);
				return { t: training && ratio > 0 ? tf.dropout(v.t, ratio) : v.t, nhwc: v.nhwc };
			}
			case 'Identity': return input(0);
			case 'Softmax': case 'LogSoftmax': {
				const v = input(0);
				if (v.t.rank !== 2) throw new UsageError(`${this.spec.name}: ${node.opType} node ${describe(node)} on a rank-${v.t.rank} tensor is not supported.`);
				return { t: node.opType === 'Softmax' ? tf.softmax(v.t) : tf.logSoftmax(v.t), nhwc: false };
			}
			default:
				throw new UsageError(`${this.spec.name}: the tfjs engine cannot train op '${node.opType}' (node ${describe(node)}).`);
		}
	}

	/** ONNX pads [top, left, bottom, right] (or auto_pad) as a tfjs conv padding. */
	private convPad(node: OnnxNode): 'same' | 'valid' | backend_util_ExplicitPadding {
		const autoPad = attr(node, 'auto_pad')?.s ?? 'NOTSET';
		if (autoPad === 'SAME_UPPER') return 'same';
		if (autoPad === 'VALID') return 'valid';
		if (autoPad !== 'NOTSET' && autoPad !== '') {
			throw new UsageError(`${this.spec.name}: Conv node ${describe(node)} uses auto_pad=${autoPad}; not supported.`);
		}
		const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
		if (pads.every((p) => p === 0)) return 'valid';
		return [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]];
	}

	/** `b` shaped to broadcast against `a` (an NCHW-shaped constant [C,1,1] or [1,C,1,1] against NHWC). */
	private broadcastable(b: Value, a: Value, node: OnnxNode): tf.Tensor {
		if (!a.nhwc || b.nhwc || b.t.rank < 3) {
			return b.t;
		}
		const shape = b.t.shape;
		const c = shape[shape.length - 3];
		if (shape.slice(-2).every((d) => d === 1) && shape.slice(0, -3).every((d) => d === 1)) {
			return tf.reshape(b.t, [1, 1, 1, c]);
		}
		throw new UsageError(`${this.spec.name}: Add node ${describe(node)} broadcasts a constant of shape [${shape.join(', ')}] over an image; not supported.`);
	}

	dispose(): void {
		for (const p of this.params) p.variable.dispose();
	}
}

type backend_util_ExplicitPadding = tf.backend_util.ExplicitPadding;

function toNchw(v: Value): tf.Tensor {
	return v.t.rank === 4 && v.nhwc ? tf.transpose(v.t, [0, 3, 1, 2]) : v.t;
}
