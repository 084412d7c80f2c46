import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeCheckpoint, readCheckpoint, writeCheckpoint } from '../../../src/training/tfjs/checkpoint';

const dir = mkdtempSync(join(tmpdir(), 'crossbar-ckpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('tfjs engine checkpoint', () => {
	void it('round-trips state and float32/uint8 arrays, replacing the previous file atomically', async () => {
		const path = join(dir, 'tfjs-checkpoint.bin');
		const arrays = new Map<string, Float32Array | Uint8Array>([
			['param:w', Float32Array.from([1.5, -2, 3e-8])],
			['mask:w', Uint8Array.from([1, 0, 1])],
			['momentum:w', new Float32Array(5).fill(0.25)],
		]);
		await writeCheckpoint(path, { fingerprint: 'abc', state: { stage: 'finetune', epochsDone: 2 }, arrays });
		await writeCheckpoint(path, { fingerprint: 'abc', state: { stage: 'finetune', epochsDone: 3 }, arrays });
		assert.deepEqual(readdirSync(dir), ['tfjs-checkpoint.bin'], 'no temp files left');
		const back = await readCheckpoint<{ stage: string; epochsDone: number }>(path);
		assert.equal(back?.fingerprint, 'abc');
		assert.deepEqual(back?.state, { stage: 'finetune', epochsDone: 3 });
		for (const [key, array] of arrays) {
			assert.deepEqual(back?.arrays.get(key), array, key);
		}
		assert.equal(await readCheckpoint(join(dir, 'none.bin')), undefined);
	});

	void it('refuses a cut or foreign file with its path in the message', async () => {
		const path = join(dir, 'cut.bin');
		await writeCheckpoint(path, { fingerprint: 'x', state: {}, arrays: new Map([['param:w', new Float32Array(100)]]) });
		const bytes = readFileSync(path);
		assert.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10), path), /cut\.bin: not a usable tfjs-engine checkpoint \(array 'param:w' is cut short\)/);
		writeFileSync(join(dir, 'other.bin'), 'hello world, not a checkpoint');
		await assert.rejects(readCheckpoint(join(dir, 'other.bin')), /other\.bin: not a usable tfjs-engine checkpoint \(wrong magic\)/);
	});
});
