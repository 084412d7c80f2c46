/**
 * Static shape propagation over an ONNX graph, for what crossbar analysis needs: each Conv's
 * output spatial size (how often its crossbars fire per inference). Covers the ops CNN exports
 * use between convolutions; anything else leaves its outputs unknown rather than guessing.
 * Formulas: the ONNX operator specs (Conv, MaxPool/AveragePool with ceil_mode as ONNX Runtime
 * computes it, Concat, Flatten, Reshape, Pad, Resize, ...).
 */
import type { Dim, OnnxNode } from './schema';

export type Shape = readonly Dim[];

/** Ops whose first output has the first input's shape. */
const sameShapeOps = new Set([
	'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Softplus', 'Softsign', 'Clip',
	'BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'GroupNormalization', 'LRN', 'Dropout', 'Identity', 'Cast', 'CastLike',
	'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Erf', 'Gelu', 'Mish', 'Softmax', 'LogSoftmax', 'Hardmax',
	'QuantizeLinear', 'DequantizeLinear', 'Not', 'Sign', 'Sin', 'Cos', 'LpNormalization', 'MeanVarianceNormalization', 'ThresholdedRelu', 'Shrink',
]);

/** Element-wise ops with multidirectional (numpy) broadcasting. */
const broadcastOps = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'PRelu', 'Mod', 'BitShift']);

const poolOps = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const globalPoolOps = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);

function attrInts(node: OnnxNode, name: string): readonly number[] | undefined {
	return node.attributes.get(name)?.ints;
}

function attrInt(node: OnnxNode, name: string, fallback: number): number {
	return node.attributes.get(name)?.i ?? fallback;
}

function product(dims: readonly Dim[]): number | undefined {
	let n = 1;
	for (const d of dims) {
		if (d === undefined) {
			return undefined;
		}
		n *= d;
	}
	return n;
}

function positive(value: number): Dim {
	return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * Output spatial sizes of a sliding-window op (Conv, pools). `kernel` per spatial axis;
 * returns [N, channels, ...spatial] or undefined when the input rank is unknown.
 */
export function windowOutput(node: OnnxNode, input: Shape | undefined, channels: Dim, kernel: readonly number[], allowCeil: boolean): Shape | undefined {
	if (!input || input.length < 3 || kernel.length !== input.length - 2) {
		return undefined;
	}
	const spatial = kernel.length;
	const strides = attrInts(node, 'strides') ?? new Array<number>(spatial).fill(1);
	const dilations = attrInts(node, 'dilations') ?? new Array<number>(spatial).fill(1);
	const pads = attrInts(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
	const autoPad = node.attributes.get('auto_pad')?.s ?? 'NOTSET';
	const ceil = allowCeil && attrInt(node, 'ceil_mode', 0) === 1;
	const out: Dim[] = [input[0], channels];
	for (let i = 0; i < spatial; i++) {
		const size = input[2 + i];
		const stride = strides[i] ?? 1;
		const dilation = dilations[i] ?? 1;
		const k = kernel[i];
		if (size === undefined || !(stride > 0) || !(dilation > 0) || !(k > 0)) {
			out.push(undefined);
			continue;
		}
		const extent = dilation * (k - 1) + 1;
		if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
			out.push(positive(Math.ceil(size / stride)));
		} else if (autoPad === 'VALID') {
			out.push(positive(Math.floor((size - extent) / stride) + 1));
		} else {
			const begin = pads[i] ?? 0;
			const end = pads[i + spatial] ?? 0;
			const span = size + begin + end - extent;
			let result = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
			// With ceil_mode, a last window that would start inside the end padding is dropped (ONNX Runtime, PyTorch).
			if (ceil && (result - 1) * stride >= size + begin) {
				result--;
			}
			out.push(positive(result));
		}
	}
	return out;
}

function broadcast(shapes: readonly (Shape | undefined)[]): Shape | undefined {
	if (shapes.length === 0 || shapes.some((s) => s === undefined)) {
		return undefined;
	}
	const all = shapes as Shape[];
	const rank = Math.max(...all.map((s) => s.length));
	const out: Dim[] = [];
	for (let i = 0; i < rank; i++) {
		let result: Dim = 1;
		let unknown = false;
		for (const s of all) {
			const d = s[s.length - rank + i];
			if (s.length - rank + i < 0 || d === 1) {
				continue;
			}
			if (d === undefined) {
				unknown = true;
			} else if (result !== 1 && result !== d) {
				return undefined;
			} else {
				result = d;
			}
		}
		out.push(unknown && result === 1 ? undefined : result);
	}
	return out;
}

function normalizeAxis(axis: number, rank: number): number | undefined {
	const a = axis < 0 ? axis + rank : axis;
	return a >= 0 && a < rank ? a : undefined;
}

function reshape(input: Shape | undefined, target: readonly number[], allowZero: boolean): Shape | undefined {
	const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? input?.[i] : d === -1 ? undefined : d));
	const minusOne = target.indexOf(-1);
	if (minusOne >= 0) {
		const total = input ? product(input) : undefined;
		const rest = product(out.filter((_, i) => i !== minusOne));
		out[minusOne] = total !== undefined && rest !== undefined && rest > 0 ? total / rest : undefined;
	}
	return out.map((d) => (d !== undefined && Number.isSafeInteger(d) && d >= 0 ? d : undefined));
}

/**
 * Computes the output shape(s) of one node from what is known; returns the shapes to record
 * (undefined entries: unknown). `constants` holds small constant tensors' values by name.
 */
export function inferNode(node: OnnxNode, shapeOf: (name: string) => Shape | undefined, constantOf: (name: string) => readonly number[] | undefined): (Shape | undefined)[] {
	const input = node.inputs.length > 0 && node.inputs[0] !== '' ? shapeOf(node.inputs[0]) : undefined;
	const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : '';
	if (sameShapeOps.has(op)) {
		return [input];
	}
	if (broadcastOps.has(op)) {
		return [broadcast(node.inputs.filter((n) => n !== '').map(shapeOf))];
	}
	switch (op) {
		case 'Conv': {
			const weight = shapeOf(node.inputs[1]);
			const kernel = attrInts(node, 'kernel_shape') ?? weight?.slice(2);
			if (!kernel || kernel.some((k) => k === undefined)) {
				return [undefined];
			}
			return [windowOutput(node, input, weight?.[0], kernel as number[], false)];
		}
		case 'ConvTranspose': {
			const weight = shapeOf(node.inputs[1]);
			const kernel = (attrInts(node, 'kernel_shape') ?? weight?.slice(2)) as readonly number[] | undefined;
			if (!input || !kernel || kernel.some((k) => k === undefined) || input.length !== kernel.length + 2) {
				return [undefined];
			}
			const groups = attrInt(node, 'group', 1);
			const channels = weight?.[1] !== undefined ? weight[1] * groups : undefined;
			const explicit = attrInts(node, 'output_shape');
			const spatial = kernel.length;
			const strides = attrInts(node, 'strides') ?? new Array<number>(spatial).fill(1);
			const dilations = attrInts(node, 'dilations') ?? new Array<number>(spatial).fill(1);
			const pads = attrInts(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
			const outputPadding = attrInts(node, 'output_padding') ?? new Array<number>(spatial).fill(0);
			const autoPad = node.attributes.get('auto_pad')?.s ?? 'NOTSET';
			const out: Dim[] = [input[0], channels];
			for (let i = 0; i < spatial; i++) {
				const size = input[2 + i];
				if (explicit) {
					out.push(explicit[explicit.length - spatial + i]);
				} else if (size === undefined) {
					out.push(undefined);
				} else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
					out.push(size * strides[i]);
				} else {
					out.push(positive(strides[i] * (size - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - pads[i] - pads[i + spatial]));
				}
			}
			return [out];
		}
		case 'MaxPool':
		case 'AveragePool':
		case 'LpPool': {
			const kernel = attrInts(node, 'kernel_shape');
			return kernel ? [windowOutput(node, input, input?.[1], kernel, poolOps.has(op))] : [undefined];
		}
		case 'GlobalAveragePool':
		case 'GlobalMaxPool':
		case 'GlobalLpPool':
			return [input && input.length >= 3 && globalPoolOps.has(op) ? [input[0], input[1], ...input.slice(2).map(() => 1)] : undefined];
		case 'Concat': {
			const shapes = node.inputs.filter((n) => n !== '').map(shapeOf);
			const first = shapes[0];
			if (!first || shapes.some((s) => !s || s.length !== first.length)) {
				return [undefined];
			}
			const axis = normalizeAxis(attrInt(node, 'axis', 0), first.length);
			if (axis === undefined) {
				return [undefined];
			}
			const out = [...first];
			const parts = shapes.map((s) => s![axis]);
			out[axis] = parts.some((d) => d === undefined) ? undefined : (parts as number[]).reduce((n, d) => n + d, 0);
			for (let i = 0; i < out.length; i++) {
				if (i !== axis && out[i] === undefined) {
					out[i] = shapes.find((s) => s![i] !== undefined)?.[i];
				}
			}
			return [out];
		}
		case 'Flatten': {
			if (!input) {
				return [undefined];
			}
			const axis = attrInt(node, 'axis', 1);
			const a = axis < 0 ? axis + input.length : axis;
			if (a < 0 || a > input.length) {
				return [undefined];
			}
			return [[product(input.slice(0, a)), product(input.slice(a))]];
		}
		case 'Reshape': {
			const target = constantOf(node.inputs[1]) ?? attrInts(node, 'shape');
			return [target ? reshape(input, target, attrInt(node, 'allowzero', 0) === 1) : undefined];
		}
		case 'Transpose': {
			if (!input) {
				return [undefined];
			}
			const perm = attrInts(node, 'perm') ?? input.map((_, i) => input.length - 1 - i);
			return [perm.length === input.length ? perm.map((p) => input[p]) : undefined];
		}
		case 'Squeeze': {
			if (!input) {
				return [undefined];
			}
			const axes = attrInts(node, 'axes') ?? (node.inputs[1] ? constantOf(node.inputs[1]) : undefined);
			if (!axes) {
				return [input.some((d) => d === undefined) ? undefined : input.filter((d) => d !== 1)];
			}
			const drop = new Set(axes.map((a) => normalizeAxis(a, input.length)));
			return [input.filter((_, i) => !drop.has(i))];
		}
		case 'Unsqueeze': {
			const axes = attrInts(node, 'axes') ?? (node.inputs[1] ? constantOf(node.inputs[1]) : undefined);
			if (!input || !axes) {
				return [undefined];
			}
			const rank = input.length + axes.length;
			const at = new Set(axes.map((a) => normalizeAxis(a, rank)));
			const out: Dim[] = [];
			let next = 0;
			for (let i = 0; i < rank; i++) {
				out.push(at.has(i) ? 1 : input[next++]);
			}
			return [out];
		}
		case 'Pad': {
			const pads = attrInts(node, 'pads') ?? (node.inputs[1] ? constantOf(node.inputs[1]) : undefined);
			if (!input || !pads || pads.length !== 2 * input.length || (node.inputs[3] ?? '') !== '') {
				return [undefined];
			}
			return [input.map((d, i) => (d === undefined ? undefined : positive(d + pads[i] + pads[i + input.length])))];
		}
		case 'Resize':
		case 'Upsample': {
			if (!input) {
				return [undefined];
			}
			const sizes = op === 'Resize' && node.inputs[3] ? constantOf(node.inputs[3]) : undefined;
			if (sizes && sizes.length === input.length) {
				return [sizes];
			}
			const scales = op === 'Resize' ? (node.inputs[2] ? constantOf(node.inputs[2]) : undefined) : (node.inputs[1] ? constantOf(node.inputs[1]) : node.attributes.get('scales')?.floats);
			if (!scales || scales.length !== input.length) {
				return [undefined];
			}
			return [input.map((d, i) => (d === undefined ? undefined : positive(Math.floor(d * scales[i]))))];
		}
		case 'Gemm': {
			const b = shapeOf(node.inputs[1]);
			if (!input || !b || input.length !== 2 || b.length !== 2) {
				return [undefined];
			}
			const m = attrInt(node, 'transA', 0) ? input[1] : input[0];
			const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
			return [[m, n]];
		}
		case 'MatMul': {
			const b = shapeOf(node.inputs[1]);
			if (!input || !b || input.length < 2 || b.length < 2) {
				return [undefined];
			}
			const batch = broadcast([input.slice(0, -2), b.slice(0, -2)]);
			return [batch ? [...batch, input[input.length - 2], b[b.length - 1]] : undefined];
		}
		case 'Constant': {
			const attribute = [...node.attributes.values()][0];
			if (attribute?.t) {
				return [attribute.t.dims];
			}
			if (attribute?.ints) {
				return [[attribute.ints.length]];
			}
			if (attribute?.floats) {
				return [[attribute.floats.length]];
			}
			return [attribute?.i !== undefined || attribute?.f !== undefined ? [] : undefined];
		}
		default:
			return [];
	}
}

/** Values of a Constant node's output when small and numeric (shapes, axes, pads, scales). */
export function constantValues(node: OnnxNode): readonly number[] | undefined {
	const attribute = [...node.attributes.values()][0];
	if (!attribute) {
		return undefined;
	}
	if (attribute.t) {
		return attribute.t.values;
	}
	return attribute.ints ?? attribute.floats ?? (attribute.i !== undefined ? [attribute.i] : attribute.f !== undefined ? [attribute.f] : undefined);
}

/**
 * Propagates shapes through `nodes` (in graph order, which ONNX requires to be topological).
 * `shapes` is seeded with graph inputs and initializers and receives every output it can work out.
 */
export function propagateShapes(nodes: readonly OnnxNode[], shapes: Map<string, Shape>, constants: Map<string, readonly number[]>): void {
	for (const node of nodes) {
		if (node.opType === 'Constant' && node.outputs[0]) {
			const values = constantValues(node);
			if (values) {
				constants.set(node.outputs[0], values);
			}
		}
		const outputs = inferNode(node, (name) => shapes.get(name), (name) => constants.get(name));
		outputs.forEach((shape, i) => {
			const name = node.outputs[i];
			if (shape && name) {
				shapes.set(name, shape);
			}
		});
	}
}

/** Product of the spatial dimensions (after N and C) of a conv output, when all are known. */
export function spatialSize(shape: Shape | undefined): number | undefined {
	if (!shape || shape.length < 3) {
		return undefined;
	}
	return product(shape.slice(2));
}
