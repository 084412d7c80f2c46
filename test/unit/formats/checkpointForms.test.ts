// The checkpoint forms researchers actually have, read and written back without Python (the
// interop suite checks the same files with real torch): torch.nn.utils.prune masks, whole pickled
// models, legacy (non-zip) checkpoints, torch.ao quantized state_dicts, sharded indexes, and the
// message when no reader takes a file.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ModelFormatError } from '../../../src/core/errors';
import type { ModelGraph } from '../../../src/core/model';
import { openFileSource } from '../../../src/formats/byteSource';
import { pytorchGraphInfo } from '../../../src/formats/pytorch/reader';
import { openModel, openModelSource } from '../../../src/formats/registry';
import { shardedModel } from '../../../src/formats/sharded';
import { reparametrisedParts } from '../../../src/formats/stateDict';
import { writeModel } from '../../../src/formats/writers';

const fixtures = join(__dirname, '..', '..', 'fixtures');
let work = '';
before(() => {
	work = mkdtempSync(join(tmpdir(), 'crossbar-forms-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

async function tensorValues(graph: ModelGraph, name: string): Promise<Float32Array> {
	const tensor = graph.tensors.find((t) => t.name === name);
	assert.ok(tensor, `${name} in ${graph.tensors.map((t) => t.name).join(', ')}`);
	return (await tensor.load()).slice();
}

/** Opens `file`, zeroes every other weight of each conv layer (what a pruning pass writes) and writes it to `out`. */
async function pruneEveryOther(file: string, out: string): Promise<{ before: ModelGraph; notes: string[]; updates: Map<string, Float32Array> }> {
	const source = await openFileSource(file);
	const graph = await openModelSource(source);
	const updates = new Map<string, Float32Array>();
	for (const layer of graph.layers.filter((l) => l.kind === 'conv')) {
		const values = (await layer.tensor.load()).slice();
		for (let i = 0; i < values.length; i += 2) values[i] = 0;
		updates.set(layer.tensor.name, values);
	}
	const notes = await writeModel(source, graph, updates, out);
	return { before: graph, notes, updates };
}

void describe('torch.nn.utils.prune checkpoints', () => {
	void it('are one layer per X_orig/X_mask pair, whose weights are X_orig ⊙ X_mask', async () => {
		const graph = await openModel(join(fixtures, 'pytorch', 'pruned.pt'));
		try {
			assert.deepEqual(graph.layers.map((l) => l.name), ['conv1', 'conv2', 'fc']);
			for (const layer of graph.layers.slice(0, 2)) {
				const parts = reparametrisedParts(layer.tensor);
				assert.ok(parts, layer.name);
				const orig = await parts.orig.load();
				const mask = await parts.mask.load();
				assert.deepEqual([...await layer.tensor.load()], [...orig].map((v, i) => v * mask[i]));
			}
			assert.equal(reparametrisedParts(graph.layers[2].tensor), undefined, 'fc.weight is a plain weight');
		} finally {
			await graph.close();
		}
	});

	void it('are written back in the same form: mask = old mask ∧ new mask, X_orig zero where the mask is', async () => {
		const out = join(work, 'pruned-out.pt');
		const { before, notes, updates } = await pruneEveryOther(join(fixtures, 'pytorch', 'pruned.pt'), out);
		assert.ok(notes.some((n) => n.includes('torch.nn.utils.prune form')), notes.join(' | '));
		const after = await openModel(out);
		try {
			assert.deepEqual(after.tensors.map((t) => t.name), before.tensors.map((t) => t.name), 'the same tensors: no plain weight appears');
			for (const layer of ['conv1', 'conv2']) {
				const oldMask = await tensorValues(before, `${layer}.weight_mask`);
				const oldOrig = await tensorValues(before, `${layer}.weight_orig`);
				const mask = await tensorValues(after, `${layer}.weight_mask`);
				const orig = await tensorValues(after, `${layer}.weight_orig`);
				const wanted = updates.get(`${layer}.weight`) as Float32Array;
				for (let i = 0; i < mask.length; i++) {
					const keep = oldMask[i] !== 0 && wanted[i] !== 0;
					assert.equal(mask[i], keep ? 1 : 0, `${layer} mask[${i}]`);
					assert.equal(orig[i], keep ? oldOrig[i] : 0, `${layer} orig[${i}]`);
				}
				const effective = after.layers.find((l) => l.name === layer);
				// -0 (a negative weight times a 0 mask) and 0 are the same zero.
				const plain = (values: Iterable<number>): number[] => [...values].map((v) => v + 0);
				assert.deepEqual(plain(await effective?.tensor.load() ?? []), plain(wanted), `${layer}: the effective weights are the update`);
			}
		} finally {
			await after.close();
			await before.close();
		}
	});
});

void describe('whole pickled models, legacy checkpoints and quantized state_dicts', () => {
	void it('a whole model is pruned into a state_dict with the same tensor names, and the note says so', async () => {
		const out = join(work, 'whole-out.pt');
		const { before, notes, updates } = await pruneEveryOther(join(fixtures, 'pytorch', 'whole_model.pt'), out);
		assert.ok(pytorchGraphInfo(before)?.wholeModel === '__main__.TinyCNN');
		assert.ok(notes.some((n) => n.includes('state_dict') && n.includes('__main__.TinyCNN')), notes.join(' | '));
		const after = await openModel(out);
		try {
			assert.equal(pytorchGraphInfo(after)?.wholeModel, undefined, 'the output is a plain state_dict');
			assert.deepEqual(after.tensors.map((t) => [t.name, t.dtype, t.shape]), before.tensors.map((t) => [t.name, t.dtype, t.shape]));
			for (const tensor of before.tensors) {
				const expected = updates.get(tensor.name) ?? await tensor.load();
				assert.deepEqual([...await tensorValues(after, tensor.name)], [...expected], tensor.name);
			}
		} finally {
			await after.close();
			await before.close();
		}
	});

	void it('a legacy checkpoint is written back in the legacy layout with only the storages changed', async () => {
		const input = join(fixtures, 'pytorch', 'legacy.pt');
		const out = join(work, 'legacy-out.pt');
		const { before, updates } = await pruneEveryOther(input, out);
		const after = await openModel(out);
		try {
			assert.ok(pytorchGraphInfo(after)?.legacy);
			assert.equal(readFileSync(out).length, readFileSync(input).length);
			for (const tensor of before.tensors) {
				assert.deepEqual([...await tensorValues(after, tensor.name)], [...(updates.get(tensor.name) ?? await tensor.load())], tensor.name);
			}
		} finally {
			await after.close();
			await before.close();
		}
	});

	void it('a quantized weight is zero where its integer is the zero point, and pruning writes zero points', async () => {
		for (const file of ['quantized.pt', 'quantized_per_channel.pt']) {
			const out = join(work, `q-${file}`);
			const { before, updates } = await pruneEveryOther(join(fixtures, 'pytorch', file), out);
			assert.ok(before.warnings.some((w) => w.includes('quantized')), before.warnings.join(' | '));
			const after = await openModel(out);
			try {
				for (const [name, wanted] of updates) {
					const got = await tensorValues(after, name);
					// Kept values come back exactly (they were integers times the scale); pruned ones are 0.
					assert.deepEqual([...got], [...wanted], `${file} ${name}`);
				}
			} finally {
				await after.close();
				await before.close();
			}
		}
	});
});

void describe('safetensors float8 and int8 weights', () => {
	void it('are layers, and pruning keeps their other values bit for bit', async () => {
		const out = join(work, 'f8-out.safetensors');
		const { before, updates } = await pruneEveryOther(join(fixtures, 'safetensors', 'float8_int8.safetensors'), out);
		assert.deepEqual(before.layers.map((l) => [l.name, l.tensor.dtype]), [['conv', 'float8_e4m3fn'], ['fc', 'float8_e5m2'], ['q', 'int8']]);
		assert.ok(before.warnings.some((w) => w.includes('int8')) && before.warnings.some((w) => w.includes('float8')), before.warnings.join(' | '));
		const after = await openModel(out);
		try {
			for (const tensor of before.tensors) {
				assert.deepEqual([...await tensorValues(after, tensor.name)].map((v) => v + 0), [...(updates.get(tensor.name) ?? await tensor.load())].map((v) => v + 0), tensor.name);
			}
		} finally {
			await after.close();
			await before.close();
		}
	});
});

/** A safetensors file by hand: 8-byte little-endian header length, JSON header, raw data. */
function safetensors(tensors: [string, number[], Float32Array][]): Uint8Array {
	const header: Record<string, unknown> = {};
	let offset = 0;
	for (const [name, shape, values] of tensors) {
		header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + values.byteLength] };
		offset += values.byteLength;
	}
	const json = new TextEncoder().encode(JSON.stringify(header));
	const out = new Uint8Array(8 + json.length + offset);
	new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
	out.set(json, 8);
	let at = 8 + json.length;
	for (const [, , values] of tensors) {
		out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
		at += values.byteLength;
	}
	return out;
}

void describe('sharded checkpoints (*.index.json)', () => {
	const conv = (seed: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => ((i * 7 + seed) % 5 === 0 ? 0 : Math.sin(i + seed)));
	let folder = '';
	before(() => {
		folder = join(work, 'hf-model');
		mkdirSync(folder);
		writeFileSync(join(folder, 'model-00001-of-00002.safetensors'), safetensors([['features.0.weight', [8, 3, 3, 3], conv(1, 216)], ['features.0.bias', [8], conv(2, 8)]]));
		writeFileSync(join(folder, 'model-00002-of-00002.safetensors'), safetensors([['features.10.weight', [4, 8, 3, 3], conv(3, 288)], ['features.2.weight', [8, 8, 1, 1], conv(4, 64)]]));
		// As Hugging Face writes it: the weight_map sorted by name.
		writeFileSync(join(folder, 'model.safetensors.index.json'), JSON.stringify({
			metadata: { total_size: 2304 },
			weight_map: { 'features.0.bias': 'model-00001-of-00002.safetensors', 'features.0.weight': 'model-00001-of-00002.safetensors', 'features.10.weight': 'model-00002-of-00002.safetensors', 'features.2.weight': 'model-00002-of-00002.safetensors' },
		}, null, 2));
	});

	void it('reads the shards as one model in natural order, named by its folder', async () => {
		const graph = await openModel(join(folder, 'model.safetensors.index.json'));
		try {
			assert.equal(graph.format, 'safetensors');
			assert.equal(graph.file, folder);
			assert.deepEqual(graph.layers.map((l) => l.name), ['features.0', 'features.2', 'features.10']);
			assert.deepEqual([...await tensorValues(graph, 'features.10.weight')], [...conv(3, 288)]);
			assert.ok(graph.warnings.some((w) => w.includes('2 shards')), graph.warnings.join(' | '));
			assert.ok(shardedModel(graph));
		} finally {
			await graph.close();
		}
	});

	void it('a missing or broken shard is one error that names it', async () => {
		const broken = join(work, 'hf-broken');
		mkdirSync(broken);
		copyFileSync(join(folder, 'model.safetensors.index.json'), join(broken, 'model.safetensors.index.json'));
		copyFileSync(join(folder, 'model-00001-of-00002.safetensors'), join(broken, 'model-00001-of-00002.safetensors'));
		const check = async (reason: string): Promise<void> => {
			await assert.rejects(openModel(join(broken, 'model.safetensors.index.json')), (ex: unknown) => {
				assert.ok(ModelFormatError.is(ex), String(ex));
				assert.equal(ex.reason, reason, ex.message);
				assert.ok(ex.message.includes('model-00002-of-00002.safetensors'), ex.message);
				assert.ok(!ex.message.includes('\n'));
				return true;
			});
		};
		await check('not-found');
		writeFileSync(join(broken, 'model-00002-of-00002.safetensors'), readFileSync(join(folder, 'model-00002-of-00002.safetensors')).subarray(0, 100));
		await check('truncated');
		unlinkSync(join(broken, 'model-00002-of-00002.safetensors'));
		writeFileSync(join(broken, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'a.weight': '../outside.safetensors' } }));
		await assert.rejects(openModel(join(broken, 'model.safetensors.index.json')), (ex: unknown) => ModelFormatError.is(ex, 'corrupt') && ex.message.includes('outside'));
	});

	void it('pruning writes a new index and every shard into another folder', async () => {
		const outFolder = join(work, 'hf-pruned');
		mkdirSync(outFolder);
		const index = join(folder, 'model.safetensors.index.json');
		await assert.rejects(pruneEveryOther(index, join(folder, 'pruned.index.json')), /another folder/);
		const { before, notes, updates } = await pruneEveryOther(index, join(outFolder, 'model.safetensors.index.json'));
		assert.ok(notes.some((n) => n.includes('2 shards')), notes.join(' | '));
		const after = await openModel(join(outFolder, 'model.safetensors.index.json'));
		try {
			for (const tensor of before.tensors) {
				assert.deepEqual([...await tensorValues(after, tensor.name)], [...(updates.get(tensor.name) ?? await tensor.load())], tensor.name);
			}
		} finally {
			await after.close();
			await before.close();
		}
	});
});

void describe('a file no reader takes', () => {
	const fails = async (name: string, bytes: Uint8Array | string): Promise<string> => {
		const path = join(work, name);
		writeFileSync(path, bytes);
		try {
			await openModel(path);
		} catch (ex) {
			assert.ok(ModelFormatError.is(ex), String(ex));
			assert.ok(!ex.message.includes('\n'));
			return ex.message;
		}
		assert.fail(`${name} was read`);
	};

	void it('says what the file looks like and which formats were checked, not what the extension suggested', async () => {
		const json = await fails('config.json', JSON.stringify({ architectures: ['BertModel'], hidden_size: 768 }));
		assert.match(json, /a JSON document \(keys architectures, hidden_size/);
		assert.match(json, /TF\.js.*sharded index/);
		assert.doesNotMatch(json, /does not look like a TF\.js/);
		assert.match(await fails('notes.pt', 'hello, these are my notes\n'), /a text file/);
		assert.match(await fails('weights.onnx', Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)), /ONNX, picked by its name/);
		assert.match(await fails('model.npy.pt', Uint8Array.from([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, 0, 0])), /\.npy array/);
		// torch 0.3's tar checkpoints: named as such (no torch here writes them any more, so the header is built here).
		const tar = (first: string): Uint8Array => {
			const bytes = new Uint8Array(2048);
			bytes.set(new TextEncoder().encode(first), 0);
			bytes.set(new TextEncoder().encode('ustar'), 257);
			return bytes;
		};
		assert.match(await fails('old.pt', tar('sys_info')), /tar format of torch 0\.3 and older/);
		assert.match(await fails('data.pt', tar('notes.txt')), /looks like a tar archive,/);
	});
});
