import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import type { ModelFormatReason } from '../../../src/core/errors';
import type { ModelGraph } from '../../../src/core/model';
import { bufferSource, openFileSource } from '../../../src/formats/byteSource';
import { pytorchReader } from '../../../src/formats/pytorch/reader';
import { makeZip } from '../../helpers/zip';
import { rejectsWith } from './fixtureExpectations';

const fixtures = join(__dirname, '..', '..', 'fixtures', 'pytorch');

interface ExpectedTensor {
	name: string;
	shape: number[];
	dtype: string;
	sum: number;
	absSum: number;
	zeros: number;
	first: number[];
}

interface ExpectedFixture {
	tensors?: ExpectedTensor[];
	layers?: string[];
	takenFrom?: string;
	/** TorchScript: the file holds these tensors among others. */
	subset?: boolean;
	/** Layers read through torch.nn.utils.prune masks: the values torch's forward uses (weight_orig ⊙ weight_mask). */
	effective?: Record<string, ExpectedTensor>;
	reason?: ModelFormatReason;
}

const manifest = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as { marker: string; fixtures: Record<string, ExpectedFixture> };

/** Our dtype names for torch's. */
const dtypeOf: Record<string, string> = { float32: 'float32', float16: 'float16', bfloat16: 'bfloat16', float64: 'float64', int64: 'int64', int8: 'int8', uint8: 'uint8' };

async function openFixture(name: string): Promise<ModelGraph> {
	const source = await openFileSource(join(fixtures, name), name);
	try {
		return await pytorchReader.open(source, {});
	} catch (ex) {
		await source.close();
		throw ex;
	}
}


function checksum(values: Float32Array): { sum: number; absSum: number; zeros: number } {
	let sum = 0;
	let absSum = 0;
	let zeros = 0;
	for (const v of values) {
		sum += v;
		absSum += Math.abs(v);
		if (v === 0) zeros++;
	}
	return { sum, absSum, zeros };
}

function close(actual: number, expected: number, what: string): void {
	// float64 files are rounded to float32 on load; everything else is exact up to summation order.
	assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)) + 1e-6, `${what}: ${actual} vs torch ${expected}`);
}

void describe('PyTorch reader against checkpoints written by torch', () => {
	for (const [file, expected] of Object.entries(manifest.fixtures)) {
		if (expected.reason) {
			void it(`${file} is refused: ${expected.reason}`, async () => {
				await rejectsWith(openFixture(file), expected.reason as ModelFormatReason, file);
			});
			continue;
		}
		void it(`${file}: tensors, shapes and values match torch`, async () => {
			const graph = await openFixture(file);
			try {
				assert.equal(graph.format, 'pytorch');
				assert.equal(graph.file, file);
				const names = graph.tensors.map((t) => t.name);
				const wanted = (expected.tensors ?? []).map((t) => t.name);
				if (expected.subset) {
					for (const name of wanted) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
				} else {
					assert.deepEqual(names, wanted);
				}
				for (const want of expected.tensors ?? []) {
					const tensor = graph.tensors.find((t) => t.name === want.name);
					assert.ok(tensor);
					assert.deepEqual(tensor.shape, want.shape, want.name);
					assert.equal(tensor.dtype, dtypeOf[want.dtype], want.name);
					const values = await tensor.load();
					assert.equal(values.length, want.shape.reduce((a, b) => a * b, 1));
					const got = checksum(values);
					close(got.sum, want.sum, `${want.name} sum`);
					close(got.absSum, want.absSum, `${want.name} |sum|`);
					assert.equal(got.zeros, want.zeros, `${want.name} zeros`);
					want.first.forEach((v, i) => close(values[i], Math.fround(v), `${want.name}[${i}]`));
				}
				if (expected.layers) {
					assert.deepEqual(graph.layers.map((l) => l.name), expected.layers);
				}
				for (const [layerName, want] of Object.entries(expected.effective ?? {})) {
					const layer = graph.layers.find((l) => l.name === layerName);
					assert.ok(layer, layerName);
					assert.deepEqual(layer.tensor.shape, want.shape, layerName);
					const got = checksum(await layer.tensor.load());
					close(got.sum, want.sum, `${layerName} effective sum`);
					assert.equal(got.zeros, want.zeros, `${layerName}: zeros of weight_orig ⊙ weight_mask`);
				}
				const taken = graph.warnings.filter((w) => w.includes('taken from'));
				if (expected.takenFrom) {
					assert.equal(taken.length, 1, graph.warnings.join(' | '));
					assert.ok(taken[0].includes(`'${expected.takenFrom}'`), taken[0]);
				} else {
					assert.equal(taken.length, 0, graph.warnings.join(' | '));
				}
			} finally {
				await graph.close();
			}
		});
	}

	void it('does not report optimizer momentum buffers as tensors or layers', async () => {
		for (const file of ['wrapped.pth', 'lightning.ckpt', 'checkpoint.pth.tar']) {
			const graph = await openFixture(file);
			assert.equal(graph.tensors.length, 11, file);
			assert.ok(graph.tensors.every((t) => !/momentum|state|optim|loss/.test(t.name)), graph.tensors.map((t) => t.name).join(', '));
			assert.equal(graph.layers.length, 3);
			await graph.close();
		}
	});

	void it('names layers without the DataParallel `module.` prefix but keeps tensor names as stored', async () => {
		const graph = await openFixture('dataparallel.pt');
		assert.ok(graph.tensors.every((t) => t.name.startsWith('module.')));
		assert.deepEqual(graph.layers.map((l) => l.name), ['conv1', 'conv2', 'fc']);
		assert.equal(graph.layers[0].tensor.name, 'module.conv1.weight');
		assert.deepEqual(graph.layers.map((l) => [l.kind, l.layout]), [['conv', 'OIHW'], ['conv', 'OIHW'], ['linear', 'OI']]);
		await graph.close();
	});

	void it('loads views (transposes, slices, zero strides) and shared storages in logical row-major order', async () => {
		const graph = await openFixture('views.pt');
		const load = async (name: string): Promise<number[]> => {
			const tensor = graph.tensors.find((t) => t.name === name);
			assert.ok(tensor, name);
			return [...(await tensor.load())];
		};
		const base = Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
		const at = (r: number, c: number): number => base[r * 6 + c];
		assert.deepEqual(await load('shared_a'), base);
		assert.deepEqual(await load('shared_b'), base);
		assert.deepEqual(await load('transposed'), Array.from({ length: 24 }, (_, i) => at(i % 4, Math.floor(i / 4))));
		assert.deepEqual(await load('slice'), [1, 2, 3].flatMap((r) => [2, 3, 4].map((c) => at(r, c))));
		assert.deepEqual(await load('strided'), [0, 1, 2, 3].flatMap((r) => [0, 2, 4].map((c) => at(r, c))));
		assert.deepEqual(await load('expanded'), [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
		assert.deepEqual(await load('scalar'), [2.5]);
		assert.deepEqual(await load('steps'), [1, 3, 5]);
		assert.deepEqual(await load('half_view'), [0, 2].flatMap((r) => [1, 2, 3, 4, 5].map((c) => at(r, c))));
		assert.deepEqual(await load('empty'), []);
		const conv = graph.tensors.find((t) => t.name === 'conv.weight');
		assert.deepEqual(conv?.shape, [3, 4, 3, 3]);
		await graph.close();
	});

	void it('reuses the caller\'s buffer and survives concurrent loads', async () => {
		const graph = await openFixture('views.pt');
		const into = new Float32Array(1000);
		for (const tensor of graph.tensors) {
			const values = await tensor.load(into);
			assert.equal(values.buffer, into.buffer, tensor.name);
		}
		const sequential = [];
		for (const tensor of graph.tensors) sequential.push([...(await tensor.load())]);
		const concurrent = await Promise.all(graph.tensors.map(async (t) => [...(await t.load())]));
		assert.deepEqual(concurrent, sequential);
		await graph.close();
	});

	void it('says which fixtures the reader claims (sniff)', () => {
		const head = (file: string): Uint8Array => readFileSync(join(fixtures, file)).subarray(0, 4096);
		assert.equal(pytorchReader.sniff('bare.pt', head('bare.pt')), true);
		assert.equal(pytorchReader.sniff('checkpoint.pth.tar', head('checkpoint.pth.tar')), true);
		assert.equal(pytorchReader.sniff('weights', head('bare.pt')), true, 'torch archive without an extension');
		assert.equal(pytorchReader.sniff('weights.npz', head('bare.pt')), false, 'npz belongs to the numpy reader');
		assert.equal(pytorchReader.sniff('legacy.pt', head('legacy.pt')), true);
		assert.equal(pytorchReader.sniff('legacy_protocol4.pt', head('legacy_protocol4.pt')), true);
		assert.equal(pytorchReader.sniff('model.safetensors', new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b])), false);
		assert.equal(pytorchReader.sniff('x.pt', new Uint8Array(0)), false);
		const otherZip = new Uint8Array(64);
		otherZip.set([0x50, 0x4b, 0x03, 0x04]);
		otherZip[26] = 5;
		otherZip.set(new TextEncoder().encode('a.txt'), 30);
		assert.equal(pytorchReader.sniff('archive.zip', otherZip), false);
	});

	void describe('malicious pickles', () => {
		before(() => rmSync(manifest.marker, { force: true }));

		void it('never runs the pickle\'s os.system/posix.system/eval and names the global', async () => {
			const refusals = { 'malicious.pt': 'os.system', 'malicious_posix.pt': 'posix.system', 'malicious_eval.pt': 'builtins.eval' };
			for (const [file, global] of Object.entries(refusals)) {
				const ex = await rejectsWith(openFixture(file), 'unsafe-pickle-global', file);
				assert.ok(ex.message.includes(global), ex.message);
				assert.ok(ex.message.includes('nothing was run'), ex.message);
			}
			assert.equal(existsSync(manifest.marker), false, 'the marker file was never created');
		});

		void it('refuses a module class that pickles itself as a call, with advice', async () => {
			const ex = await rejectsWith(openFixture('whole_model_reduce.pt'), 'unsafe-pickle-global', 'whole_model_reduce.pt');
			assert.match(ex.message, /__main__\.ReducingModule/);
			assert.match(ex.message, /state_dict\(\)/);
		});
	});

	void it('reads a whole pickled model as data and says so', async () => {
		for (const file of ['whole_model.pt', 'whole_model_legacy.pt', 'pruned_whole_model.pt']) {
			const graph = await openFixture(file);
			assert.ok(graph.warnings.some((w) => w.includes('__main__.TinyCNN') && w.includes('nothing was run')), graph.warnings.join(' | '));
			await graph.close();
		}
	});

	void it('says which layers were read through torch.nn.utils.prune masks, and that legacy files were read', async () => {
		const pruned = await openFixture('pruned.pt');
		assert.ok(pruned.warnings.some((w) => w.includes('torch.nn.utils.prune') && w.includes('conv1.weight, conv2.weight, fc.bias')), pruned.warnings.join(' | '));
		await pruned.close();
		const legacy = await openFixture('legacy.pt');
		assert.ok(legacy.warnings.some((w) => w.includes('legacy')), legacy.warnings.join(' | '));
		await legacy.close();
	});
});

/** Pickle opcodes for hand-made hostile pickles. */
const P = {
	proto: [0x80, 2],
	mark: [0x28],
	stop: [0x2e],
	emptyDict: [0x7d],
	emptyList: [0x5d],
	emptyTuple: [0x29],
	tuple: [0x74],
	tuple1: [0x85],
	tuple2: [0x86],
	append: [0x61],
	setitem: [0x73],
	setitems: [0x75],
	reduce: [0x52],
	binpersid: [0x51],
	newfalse: [0x89],
	none: [0x4e],
	int: (n: number): number[] => (n < 256 ? [0x4b, n] : [0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff]),
	str: (s: string): number[] => {
		const b = [...new TextEncoder().encode(s)];
		return [0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, 0, ...b];
	},
	global: (module: string, name: string): number[] => [0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)],
	put: (i: number): number[] => [0x71, i],
	get: (i: number): number[] => [0x68, i],
};

/** `_rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`. */
function tensorOps(key: string, numel: number, offset: number, size: number[], stride: number[]): number[] {
	return [
		...P.global('torch._utils', '_rebuild_tensor_v2'),
		...P.mark,
		...P.mark, ...P.str('storage'), ...P.global('torch', 'FloatStorage'), ...P.str(key), ...P.str('cpu'), ...P.int(numel), ...P.tuple, ...P.binpersid,
		...P.int(offset),
		...P.mark, ...size.flatMap(P.int), ...P.tuple,
		...P.mark, ...stride.flatMap(P.int), ...P.tuple,
		...P.newfalse,
		...P.global('collections', 'OrderedDict'), ...P.emptyTuple, ...P.reduce,
		...P.tuple, ...P.reduce,
	];
}

/** A stored zip in torch's layout: `archive/data.pkl`, `archive/data/<key>`, `archive/version`. */
function torchZip(pickle: number[] | Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
	return makeZip([
		{ name: 'archive/data.pkl', data: Uint8Array.from(pickle) },
		...Object.entries(storages).map(([k, v]) => ({ name: `archive/data/${k}`, data: v })),
		{ name: 'archive/version', data: new TextEncoder().encode('3\n') },
	]);
}

function floats(values: number[]): Uint8Array {
	return new Uint8Array(new Float32Array(values).buffer);
}

async function openBytes(bytes: Uint8Array, name = 'hostile.pt'): Promise<ModelGraph> {
	return pytorchReader.open(bufferSource(bytes, name), {});
}

void describe('PyTorch reader on hand-made hostile checkpoints', () => {
	void it('reads a minimal hand-made checkpoint (the builders below are sound)', async () => {
		const pickle = [...P.proto, ...P.emptyDict, ...P.str('fc.weight'), ...tensorOps('0', 6, 0, [2, 3], [3, 1]), ...P.setitem, ...P.stop];
		const graph = await openBytes(torchZip(pickle, { 0: floats([1, 2, 3, 4, 5, 6]) }));
		assert.deepEqual([...(await graph.tensors[0].load())], [1, 2, 3, 4, 5, 6]);
		assert.deepEqual(graph.layers.map((l) => l.name), ['fc']);
	});

	const refusedGlobals: [string, string][] = [['os', 'system'], ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['builtins', 'eval'], ['builtins', 'exec'], ['builtins', 'getattr'], ['builtins', '__import__'], ['__builtin__', 'eval'], ['torch', 'load'], ['torch.serialization', 'load'], ['numpy', 'load'], ['webbrowser', 'open'], ['runpy', '_run_code'], ['pickle', 'loads'], ['builtins', 'open']];
	for (const [module, name] of refusedGlobals) {
		void it(`refuses ${module}.${name} via GLOBAL and STACK_GLOBAL`, async () => {
			const viaGlobal = [...P.proto, ...P.global(module, name), ...P.mark, ...P.str('x'), ...P.tuple, ...P.reduce, ...P.stop];
			const viaStack = [0x80, 4, ...P.str(module), ...P.str(name), 0x93, ...P.mark, ...P.str('x'), ...P.tuple, ...P.reduce, ...P.stop];
			for (const pickle of [viaGlobal, viaStack]) {
				const ex = await rejectsWith(openBytes(torchZip(pickle)), 'unsafe-pickle-global', 'hostile.pt');
				assert.ok(ex.message.includes(`${module}.${name}`), ex.message);
			}
		});
	}

	void it('builds an unknown class with NEWOBJ and BUILD as an inert record, and refuses calling it', async () => {
		// A module record: NEWOBJ(__main__.Net) then BUILD({'_parameters': {'w': tensor}, '_modules': {}, …}).
		const module = [...P.global('__main__', 'Net'), ...P.emptyTuple, 0x81, ...P.emptyDict,
			...P.str('_parameters'), ...P.emptyDict, ...P.str('w'), ...tensorOps('0', 6, 0, [2, 3], [3, 1]), ...P.setitem, ...P.setitem,
			...P.str('_buffers'), ...P.emptyDict, ...P.setitem,
			...P.str('_modules'), ...P.emptyDict, ...P.setitem, 0x62];
		const graph = await openBytes(torchZip([...P.proto, ...module, ...P.stop], { 0: floats([1, 2, 3, 4, 5, 6]) }));
		assert.deepEqual(graph.tensors.map((t) => t.name), ['w']);
		assert.ok(graph.warnings.some((w) => w.includes('__main__.Net')), graph.warnings.join(' | '));
		await graph.close();
		// The same class called (REDUCE) is refused, even with a module's arguments.
		const called = [...P.proto, ...P.global('__main__', 'Net'), ...P.emptyTuple, ...P.reduce, ...P.stop];
		const ex = await rejectsWith(openBytes(torchZip(called)), 'unsafe-pickle-global', 'hostile.pt');
		assert.match(ex.message, /__main__\.Net/);
		// An inert class handed to an allowed function that calls it is refused too.
		const rebuild = [...P.proto, ...P.global('torch._tensor', '_rebuild_from_type_v2'), ...P.mark, ...P.global('os', 'system'), ...P.global('torch', 'Tensor'), ...P.mark, ...P.str('touch x'), ...P.tuple, ...P.emptyDict, ...P.tuple, ...P.reduce, ...P.stop];
		const ex2 = await rejectsWith(openBytes(torchZip(rebuild)), 'unsafe-pickle-global', 'hostile.pt');
		assert.match(ex2.message, /os\.system/);
	});

	void it('refuses protocol-0 INST/OBJ and copyreg extension codes', async () => {
		await rejectsWith(openBytes(torchZip([...P.mark, 0x69, ...new TextEncoder().encode('os\nsystem\n'), ...P.stop])), 'corrupt', 'hostile.pt');
		await rejectsWith(openBytes(torchZip([...P.proto, 0x82, 1, ...P.stop])), 'unsafe-pickle-global', 'hostile.pt');
	});

	const malformed: [string, number[]][] = [
		['an unknown opcode', [...P.proto, 0xff, ...P.stop]],
		['no STOP', [...P.proto, ...P.emptyDict]],
		['a string longer than the pickle', [...P.proto, 0x58, 0xff, 0xff, 0xff, 0x7f, ...P.stop]],
		['an 8-byte length past the end', [0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, ...P.stop]],
		['a huge FRAME', [0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, ...P.stop]],
		['a huge LONG4', [...P.proto, 0x8b, 0xff, 0xff, 0xff, 0x7f, ...P.stop]],
		['a memo read that was never written', [...P.proto, ...P.get(9), ...P.stop]],
		['an empty-stack pop', [...P.proto, ...P.append, ...P.stop]],
		['REDUCE on a non-callable', [...P.proto, ...P.str('x'), ...P.emptyTuple, ...P.reduce, ...P.stop]],
		['SETITEM on a list', [...P.proto, ...P.emptyList, ...P.str('k'), ...P.str('v'), ...P.setitem, ...P.stop]],
		['a persistent id that is not a storage', [...P.proto, ...P.str('evil'), ...P.binpersid, ...P.stop]],
		['a storage with no entry', [...P.proto, ...P.emptyDict, ...P.str('w'), ...tensorOps('7', 4, 0, [4], [1]), ...P.setitem, ...P.stop]],
		['calling a dtype', [...P.proto, ...P.global('torch', 'float32'), ...P.emptyTuple, ...P.reduce, ...P.stop]],
		['bytearray from a number (allocation)', [...P.proto, ...P.global('builtins', 'bytearray'), ...P.mark, 0x4a, 0xff, 0xff, 0xff, 0x7f, ...P.tuple, ...P.reduce, ...P.stop]],
	];
	for (const [what, pickle] of malformed) {
		void it(`reports 'corrupt' for ${what}`, async () => {
			await rejectsWith(openBytes(torchZip(pickle, { 0: floats([1, 2, 3, 4]) })), 'corrupt', 'hostile.pt');
		});
	}

	void it('refuses views that reach outside their storage', async () => {
		const cases: [number, number[], number[]][] = [[0, [5], [1]], [3, [2], [1]], [0, [2, 2], [3, 1]], [0, [100000, 100000, 100000, 100000], [1, 1, 1, 1]]];
		for (const [offset, size, stride] of cases) {
			const pickle = [...P.proto, ...P.emptyDict, ...P.str('w'), ...tensorOps('0', 4, offset, size, stride), ...P.setitem, ...P.stop];
			await rejectsWith(openBytes(torchZip(pickle, { 0: floats([1, 2, 3, 4]) })), 'corrupt', 'hostile.pt');
		}
		const mismatch = [...P.proto, ...P.emptyDict, ...P.str('w'), ...tensorOps('0', 4, 0, [2, 2], [1]), ...P.setitem, ...P.stop];
		await rejectsWith(openBytes(torchZip(mismatch, { 0: floats([1, 2, 3, 4]) })), 'corrupt', 'hostile.pt');
		const numelLies = [...P.proto, ...P.emptyDict, ...P.str('w'), ...tensorOps('0', 400, 0, [4], [1]), ...P.setitem, ...P.stop];
		await rejectsWith(openBytes(torchZip(numelLies, { 0: floats([1, 2, 3, 4]) })), 'corrupt', 'hostile.pt');
	});

	void it('says no-layers for a checkpoint without tensors, or with only optimizer state', async () => {
		await rejectsWith(openBytes(torchZip([...P.proto, ...P.emptyDict, ...P.str('epoch'), ...P.int(3), ...P.setitem, ...P.stop])), 'no-layers', 'hostile.pt');
		const onlyOptimizer = [...P.proto, ...P.emptyDict, ...P.str('optimizer'), ...P.emptyDict, ...P.str('buf'), ...tensorOps('0', 4, 0, [4], [1]), ...P.setitem, ...P.setitem, ...P.stop];
		const ex = await rejectsWith(openBytes(torchZip(onlyOptimizer, { 0: floats([1, 2, 3, 4]) })), 'no-layers', 'hostile.pt');
		assert.match(ex.message, /optimizer/);
	});

	// The timeout is the hang guard: unbounded work would run for hours, not seconds.
	void it('finishes on deep nesting, exponential sharing, cycles and quadratic copies', { timeout: 60000 }, async () => {
		// 200k nested lists.
		const depth = 200000;
		const deep = [...P.proto, ...new Array<number>(depth).fill(0x5d), ...new Array<number>(depth - 1).fill(0x61), ...P.stop];
		await rejectsWith(openBytes(torchZip(deep)), 'no-layers', 'hostile.pt');
		// "Billion laughs": list_k = [list_(k-1), list_(k-1)], 2^60 paths to one tensor.
		const pop = 0x30;
		const laughs = [...P.proto, ...tensorOps('0', 4, 0, [2, 2], [2, 1]), ...P.put(0), pop];
		for (let k = 1; k <= 60; k++) {
			laughs.push(...P.get(k - 1), ...P.get(k - 1), ...P.tuple2, ...P.put(k), pop);
		}
		laughs.push(...P.get(60), ...P.stop);
		const graph = await openBytes(torchZip(laughs, { 0: floats([1, 2, 3, 4]) }));
		assert.ok(graph.tensors.length <= 2, `${graph.tensors.length} names for one tensor`);
		// A list that contains itself.
		const cycle = [...P.proto, ...P.emptyList, ...P.put(0), ...P.get(0), ...P.append, ...P.stop];
		await rejectsWith(openBytes(torchZip(cycle)), 'no-layers', 'hostile.pt');
		// One big dict copied again and again through OrderedDict(d).
		const copies = [...P.proto, ...P.emptyDict, ...P.mark];
		for (let i = 0; i < 20000; i++) copies.push(...P.int(i), ...P.none);
		copies.push(...P.setitems, ...P.put(0), ...P.mark);
		for (let i = 0; i < 20000; i++) copies.push(...P.global('collections', 'OrderedDict'), ...P.get(0), ...P.tuple1, ...P.reduce);
		copies.push(...P.tuple, ...P.stop);
		await rejectsWith(openBytes(torchZip(copies)), 'corrupt', 'hostile.pt');
	});

	void it('refuses a bare pickle and a random file by their first bytes', async () => {
		await rejectsWith(openBytes(Uint8Array.from([...P.proto, ...P.global('os', 'system'), ...P.stop]), 'plain.pt'), 'bad-magic', 'plain.pt');
		await rejectsWith(openBytes(new TextEncoder().encode('hello world'), 'text.pt'), 'bad-magic', 'text.pt');
		await rejectsWith(openBytes(new Uint8Array(0), 'empty.pt'), 'empty', 'empty.pt');
	});
});

/** A small seeded PRNG (mulberry32) so the fuzz cases are the same on every run. */
function random(seed: number): () => number {
	let a = seed;
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

void describe('PyTorch reader on randomly damaged checkpoints', () => {
	const iterations = Number(process.env.CROSSBAR_FUZZ_ITERATIONS ?? 400);
	void it(`only ever fails with a ModelFormatError (${iterations} seeded mutations)`, { timeout: 120000 }, async () => {
		const files = ['bare.pt', 'views.pt', 'wrapped.pth', 'torchscript.pt', 'deflated.pt', 'lightning.ckpt', 'legacy.pt', 'whole_model.pt', 'pruned_whole_model.pt', 'quantized_per_channel.pt'].map((f) => readFileSync(join(fixtures, f)));
		const next = random(1234);
		let failures = 0;
		for (let i = 0; i < iterations; i++) {
			const original = files[i % files.length];
			let bytes = Uint8Array.from(original);
			const mode = i % 3;
			if (mode === 0) {
				// Damage the pickle, which starts after the first local header (torch writes data.pkl first).
				const start = 64;
				const end = Math.min(bytes.length, 64 + 600);
				for (let k = 0; k < 1 + Math.floor(next() * 4); k++) bytes[start + Math.floor(next() * (end - start))] = Math.floor(next() * 256);
			} else if (mode === 1) {
				for (let k = 0; k < 1 + Math.floor(next() * 8); k++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
			} else {
				bytes = bytes.subarray(0, Math.floor(next() * bytes.length));
			}
			try {
				const graph = await openBytes(bytes, 'fuzz.pt');
				for (const tensor of graph.tensors) await tensor.load();
			} catch (ex) {
				failures++;
				assert.ok(ModelFormatError.is(ex), `case ${i}: ${ex instanceof Error ? ex.stack : String(ex)}`);
				assert.ok(ex.message.startsWith('fuzz.pt: ') && !ex.message.includes('\n'), ex.message);
			}
		}
		assert.ok(failures > 0);
	});
});
