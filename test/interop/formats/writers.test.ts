// The model writers' output, read back by independent Python readers (Debian's python3-numpy,
// python3-onnx with its checker): each fixture with every third weight of every layer zeroed is
// written, and NumPy / ONNX see every tensor with the zeros and the sum our reader sees. The
// round-trip and byte-level checks without Python are in test/unit/formats/*Writer.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelGraph } from '../../../src/core/model';
import type { ByteSource } from '../../../src/formats/byteSource';
import { openFileSource } from '../../../src/formats/byteSource';
import { numpyReader } from '../../../src/formats/numpy';
import { onnxReader } from '../../../src/formats/onnx/reader';
import { safetensorsReader } from '../../../src/formats/safetensors';
import { tfjsReader } from '../../../src/formats/tfjs';
import type { FormatReader } from '../../../src/formats/types';
import { writeNpz } from '../../../src/formats/writers/numpy';
import { writeOnnx } from '../../../src/formats/writers/onnx';
import { writeSafetensors } from '../../../src/formats/writers/safetensors';
import { writeTfjs } from '../../../src/formats/writers/tfjs';
import { checksum, fixturePath, zeroEveryThird } from '../../unit/formats/fixtureExpectations';
import { python, requirePython } from '../cliHarness';

/** Reads an .npz with np.load: zeros, sum, memory order and dtype of each array. */
const numpyReadBack = `import json, sys
import numpy as np
out = {}
with np.load(sys.argv[1], allow_pickle=False) as z:
    for name in z.files:
        try:
            a = z[name].astype(np.float32)
        except ValueError:
            continue
        out[name] = {'zeros': int((a == 0).sum()), 'sum': float(a.astype(np.float64).sum()), 'fortran': bool(z[name].flags.f_contiguous and z[name].ndim > 1), 'descr': z[name].dtype.str}
print(json.dumps(out))
`;

/** Decodes a layers model the way tfjs-core io.decodeWeights does. */
const tfjsReadBack = `import json, os, sys
import numpy as np
path = sys.argv[1]
model = json.load(open(path))
folder = os.path.dirname(path)
out = {}
for group in model['weightsManifest']:
    data = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
    offset = 0
    for w in group['weights']:
        n = int(np.prod(w['shape'])) if w['shape'] else 1
        q = w.get('quantization')
        if q and q['dtype'] in ('uint8', 'uint16'):
            raw = np.frombuffer(data, q['dtype'], n, offset)
            a = (raw.astype(np.float64) * q['scale'] + q['min']).astype(np.float32)
            offset += raw.nbytes
        elif q and q['dtype'] == 'float16':
            a = np.frombuffer(data, '<f2', n, offset).astype(np.float32)
            offset += 2 * n
        else:
            a = np.frombuffer(data, {'float32': '<f4', 'int32': '<i4'}[w['dtype']], n, offset).astype(np.float32)
            offset += 4 * n
        out[w['name']] = {'zeros': int((a == 0).sum()), 'sum': float(a.astype(np.float64).sum())}
print(json.dumps(out))
`;

/** onnx.checker, then every initializer through onnx.numpy_helper. */
const onnxReadBack = `import json, sys
import numpy as np
import onnx
from onnx import numpy_helper
onnx.checker.check_model(sys.argv[1])
model = onnx.load(sys.argv[1])
out = {}
for t in model.graph.initializer:
    if t.data_type == onnx.TensorProto.BFLOAT16:
        bits = np.frombuffer(t.raw_data, '<u2').astype(np.uint32) if t.raw_data else np.array(t.int32_data, np.uint32)
        a = (bits << 16).view(np.float32)
    else:
        a = numpy_helper.to_array(t).astype(np.float32)
    out[t.name] = {'zeros': int((a == 0).sum()), 'sum': float(a.astype(np.float64).sum())}
print(json.dumps(out))
`;

/** The safetensors header and data, read with NumPy. */
const safetensorsReadBack = `import json, struct, sys
import numpy as np
data = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
types = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
out = {}
for name, e in header.items():
    if name == '__metadata__':
        continue
    raw = data[8 + n + e['data_offsets'][0]: 8 + n + e['data_offsets'][1]]
    if e['dtype'] == 'BF16':
        a = (np.frombuffer(raw, '<u2').astype(np.uint32) << 16).view(np.float32)
    else:
        a = np.frombuffer(raw, types[e['dtype']]).astype(np.float32)
    out[name] = {'zeros': int((a == 0).sum()), 'sum': float(a.astype(np.float64).sum())}
print(json.dumps(out))
`;

interface Seen {
	zeros: number;
	sum: number;
	fortran?: boolean;
	descr?: string;
}

function runPython(code: string, file: string): Record<string, Seen> {
	const r = spawnSync(python, ['-c', code, file], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
	assert.equal(r.status, 0, `python cannot read ${file}: ${r.stderr}`);
	return JSON.parse(r.stdout) as Record<string, Seen>;
}

type Write = (source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, out: string) => Promise<void>;

const writers: { format: string; reader: FormatReader; write: Write; readBack: string; modules: string[]; files: string[] }[] = [
	{ format: 'numpy', reader: numpyReader, write: writeNpz, readBack: numpyReadBack, modules: ['numpy'], files: ['weights.npz', 'weights_compressed.npz', 'versions.npz', 'mixed_object.npz'] },
	{ format: 'tfjs', reader: tfjsReader, write: writeTfjs, readBack: tfjsReadBack, modules: ['numpy'], files: ['seq.json', 'func.json'] },
	{ format: 'onnx', reader: onnxReader, write: writeOnnx, readBack: onnxReadBack, modules: ['onnx', 'numpy'], files: ['tiny_cnn.onnx', 'bn_dynamic.onnx', 'float_data.onnx', 'fp16.onnx', 'external.onnx'] },
	{ format: 'safetensors', reader: safetensorsReader, write: writeSafetensors, readBack: safetensorsReadBack, modules: ['numpy'], files: ['tiny_f32.safetensors', 'tiny_f16.safetensors', 'tiny_bf16.safetensors', 'mixed_f64_i8.safetensors'] },
];

void describe('interop: Python reads what the model writers wrote', () => {
	let folder = '';
	before(() => {
		requirePython('numpy', 'onnx');
		folder = mkdtempSync(join(tmpdir(), 'crossbar-writers-interop-'));
	});
	after(() => rmSync(folder, { recursive: true, force: true }));

	for (const w of writers) {
		for (const file of w.files) {
			void it(`${w.format}: ${file} with weights zeroed`, async () => {
				const source = await openFileSource(fixturePath(w.format, file));
				const graph = await w.reader.open(source, {});
				const updates = await zeroEveryThird(graph);
				assert.ok(updates.size > 0);
				const out = join(folder, `pruned-${file}`);
				await w.write(source, graph, updates, out);
				await graph.close();

				const theirs = runPython(w.readBack, out);
				const ours = await w.reader.open(await openFileSource(out), {});
				try {
					for (const tensor of ours.tensors) {
						const seen = theirs[tensor.name];
						assert.ok(seen, `python sees ${tensor.name}`);
						const mine = checksum(await tensor.load());
						assert.equal(seen.zeros, mine.zeros, `${tensor.name}: zeros seen by python`);
						assert.ok(Math.abs(seen.sum - mine.sum) <= 1e-6 * (1 + mine.absSum), `${tensor.name}: sum seen by python ${seen.sum} vs ${mine.sum}`);
					}
				} finally {
					await ours.close();
				}
				if (file === 'versions.npz') {
					assert.equal(theirs['be.weight'].descr, '>f4', 'byte order kept');
					assert.ok(theirs.be_fortran.fortran, 'Fortran order kept');
				}
			});
		}
	}
});
