// The PyTorch checkpoint writer's output, read back by real torch (Debian's python3-torch): each
// fixture with some weights zeroed loads with torch.load(weights_only=True) (a TorchScript archive
// with torch.jit.load), torch sees every tensor our reader sees with the same values, shared
// storages stay shared, and what our reader does not show (optimizer state, integer buffers) is
// as torch saw it before. The byte-level checks are in test/unit/formats/pytorchWriter.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openFileSource } from '../../../src/formats/byteSource';
import { pytorchReader } from '../../../src/formats/pytorch/reader';
import { writePytorchCheckpoint } from '../../../src/formats/pytorch/writer';
import { python, repoRoot, requirePython } from '../cliHarness';

const fixtures = join(repoRoot, 'test', 'fixtures', 'pytorch');

/** Loads checkpoints with real torch and prints every tensor (flattened, float64) plus its storage pointer. */
const torchDump = `
import json, sys, torch
def flat(obj, prefix, out):
    if isinstance(obj, torch.Tensor):
        out[prefix] = {'values': obj.detach().double().flatten().tolist(), 'ptr': obj.storage().data_ptr(), 'shape': list(obj.shape)}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flat(v, f'{prefix}.{k}' if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flat(v, f'{prefix}.{i}' if prefix else str(i), out)
res = {}
for p in sys.argv[1:]:
    weights_only = True
    if p.startswith('jit:'):
        obj = torch.jit.load(p[4:], map_location='cpu').state_dict()
    else:
        try:
            obj = torch.load(p, map_location='cpu', weights_only=True)
        except Exception:
            weights_only = False
            obj = torch.load(p, map_location='cpu')
    out = {}
    flat(obj, '', out)
    res[p] = {'weightsOnly': weights_only, 'tensors': out}
print(json.dumps(res))
`;

interface TorchTensorDump {
	values: number[];
	ptr: number;
	shape: number[];
}

function torchLoad(...paths: string[]): Record<string, { weightsOnly: boolean; tensors: Record<string, TorchTensorDump> }> {
	const run = spawnSync(python, ['-c', torchDump, ...paths], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
	assert.equal(run.status, 0, run.stderr);
	return JSON.parse(run.stdout);
}

interface Case {
	readonly file: string;
	/** The tensors to update (every third element zeroed). */
	readonly update: readonly string[];
	/** Where torch sees our tensor names (a wrapper dict adds a prefix). */
	readonly prefix?: string;
	readonly jit?: boolean;
	/** Pickled floats (optimizer state): torch 1.13's weights_only loader has no float opcode, so full unpickling. */
	readonly floats?: boolean;
	/** Tensors torch must still see in one storage. */
	readonly shared?: readonly (readonly [string, string])[];
}

const cases: Case[] = [
	{ file: 'bare.pt', update: ['conv2.weight', 'fc.weight'] },
	{ file: 'views.pt', update: ['transposed', 'half_view', 'expanded', 'fc.weight'], shared: [['shared_a', 'transposed'], ['shared_b', 'transposed']] },
	{ file: 'half.pt', update: ['conv2.weight'] },
	{ file: 'bfloat16.pt', update: ['conv2.weight'] },
	{ file: 'double.pt', update: ['conv2.weight'] },
	{ file: 'deflated.pt', update: ['conv1.weight'] },
	{ file: 'wrapped.pth', update: ['fc.weight'], prefix: 'model.', floats: true },
	{ file: 'torchscript.pt', update: ['conv2.weight'], jit: true },
];

void describe('interop: torch reads what the PyTorch checkpoint writer wrote', () => {
	let work = '';
	before(() => {
		requirePython('torch');
		work = mkdtempSync(join(tmpdir(), 'crossbar-pytorch-writer-interop-'));
	});
	after(() => rmSync(work, { recursive: true, force: true }));

	for (const c of cases) {
		void it(`${c.file}: ${c.jit ? 'torch.jit.load' : c.floats ? 'torch.load' : 'torch.load(weights_only=True)'} sees the written values`, async () => {
			const input = join(work, c.file);
			copyFileSync(join(fixtures, c.file), input);
			const source = await openFileSource(input);
			const graph = await pytorchReader.open(source, {});
			const updates = new Map<string, Float32Array>();
			for (const name of c.update) {
				const values = (await graph.tensors.find((t) => t.name === name)!.load()).slice();
				for (let i = 0; i < values.length; i += 3) values[i] = 0;
				updates.set(name, values);
			}
			const out = join(work, `pruned-${c.file}`);
			await writePytorchCheckpoint(source, graph, updates, out);
			await graph.close();

			const ours = await pytorchReader.open(await openFileSource(out), {});
			const key = (p: string): string => (c.jit ? `jit:${p}` : p);
			const dump = torchLoad(key(input), key(out));
			const [before, after] = [dump[key(input)], dump[key(out)]];
			if (!c.jit) assert.equal(after.weightsOnly, !c.floats, `torch.load(weights_only=True) ${c.floats ? 'refuses it as it refused the input' : 'reads it'}`);
			assert.deepEqual(Object.keys(after.tensors), Object.keys(before.tensors), 'the same tensors, in the same order');
			const prefix = c.prefix ?? '';
			for (const [name, update] of updates) {
				assert.deepEqual(after.tensors[prefix + name].values, [...update], `${name}: the written values`);
			}
			for (const [name, theirs] of Object.entries(after.tensors)) {
				const tensor = name.startsWith(prefix) ? ours.tensors.find((t) => t.name === name.slice(prefix.length)) : undefined;
				const expected = tensor ? [...await tensor.load()] : before.tensors[name].values;
				assert.deepEqual(theirs.values, expected, `${name}: torch sees ${tensor ? 'what our reader sees' : 'what it saw before'}`);
				assert.deepEqual(theirs.shape, before.tensors[name].shape, `${name}: shape`);
			}
			for (const [a, b] of c.shared ?? []) {
				assert.equal(after.tensors[a].ptr, after.tensors[b].ptr, `torch still sees ${a} and ${b} in one storage`);
			}
			await ours.close();
		});
	}
});
