import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ModelFormatError } from '../../../../src/core/errors';
import { bufferSource } from '../../../../src/formats/byteSource';
import { openHdf5 } from '../../../../src/formats/hdf5';
import type { Hdf5Group } from '../../../../src/formats/hdf5';
import { makeFixtures, rejects } from './hdf5Fixtures';

/** Reads everything a Keras reader would: every group's attributes and children, every dataset. */
async function readAll(bytes: Uint8Array, name: string): Promise<void> {
	const file = await openHdf5(bufferSource(bytes, name));
	const seen = new Set<number>();
	const walk = async (group: Hdf5Group, depth: number): Promise<void> => {
		await group.attributes();
		for (const child of await group.children()) {
			if (seen.has(child.address) || depth > 8) continue;
			seen.add(child.address);
			if (child.kind === 'group') {
				await walk(child, depth + 1);
			} else {
				await child.attributes();
				// A corrupted shape may declare gigabytes of fill; loading those proves nothing.
				if (child.shape.reduce((a, b) => a * b, 1) <= 1 << 20) await child.load().catch((ex: unknown) => {
					if (!ModelFormatError.is(ex, 'unsupported-dtype')) throw ex;
				});
			}
		}
	};
	await walk(file.root, 0);
	await file.datasets();
}

/** Expects success or a one-line ModelFormatError naming the file; returns the reason. */
async function outcome(bytes: Uint8Array, name: string, what: string): Promise<string> {
	try {
		await readAll(bytes, name);
		return 'ok';
	} catch (ex) {
		assert.ok(ModelFormatError.is(ex), `${what}: not a ModelFormatError: ${ex instanceof Error ? ex.stack : String(ex)}`);
		assert.ok(ex.message.startsWith(`${name}: `) && !ex.message.includes('\n'), `${what}: ${ex.message}`);
		return ex.reason;
	}
}

function indexesOf(bytes: Uint8Array, text: string): number[] {
	const found: number[] = [];
	for (let at = Buffer.from(bytes).indexOf(text); at >= 0; at = Buffer.from(bytes).indexOf(text, at + 1)) found.push(at);
	return found;
}

void describe('HDF5 reader on malformed files', () => {
	let fixtures: ReturnType<typeof makeFixtures>;
	before(() => {
		fixtures = makeFixtures();
	});
	after(() => fixtures?.cleanup());
	const load = (name: string): Uint8Array => new Uint8Array(readFileSync(join(fixtures.dir, name)));

	void it('refuses empty, foreign and truncated files', async () => {
		await rejects(openHdf5(bufferSource(new Uint8Array(0), 'empty.h5')), 'empty', 'empty.h5');
		await rejects(openHdf5(bufferSource(new TextEncoder().encode('{"not": "hdf5", "at": "all"}'), 'x.h5')), 'bad-magic', 'x.h5');
		for (const name of ['earliest.h5', 'latest.h5']) {
			const bytes = load(name);
			for (const length of [7, 8, 40, 600, bytes.length >> 1, bytes.length - 1]) {
				await rejects(readAll(bytes.subarray(0, length), name), ['truncated', 'corrupt'], name);
			}
		}
	});

	void it('reports truncation inside the file when the superblock is made to agree', async () => {
		const bytes = load('keras2.h5');
		const reasons = new Set<string>();
		for (let length = 200; length < bytes.length; length += 97) {
			const cut = bytes.slice(0, length);
			new DataView(cut.buffer).setBigUint64(40, BigInt(length), true); // end-of-file address (superblock v0)
			reasons.add(await outcome(cut, 'keras2.h5', `cut at ${length}`));
		}
		assert.ok(reasons.has('truncated'), [...reasons].join());
	});

	void it('detects a B-tree that points back at itself', async () => {
		const bytes = load('keras2.h5').slice();
		const node = indexesOf(bytes, 'TREE').find((at) => bytes[at + 4] === 0 && bytes[at + 5] === 0)!;
		bytes[node + 5] = 1; // level 1 ...
		new DataView(bytes.buffer).setBigUint64(node + 32, BigInt(node), true); // ... whose first child is itself
		await rejects(readAll(bytes, 'cyclic.h5'), 'corrupt', 'cyclic.h5', /cycle|level/);
	});

	void it('detects a damaged version 2 object header by its checksum', async () => {
		const bytes = load('small_latest.h5').slice();
		for (const at of indexesOf(bytes, 'OHDR')) bytes[at + 9] ^= 0x40;
		await rejects(readAll(bytes, 'flipped.h5'), 'corrupt', 'flipped.h5', /checksum/);
	});

	for (const name of ['keras2.h5', 'small_latest.h5']) {
		void it(`never hangs or throws anything but a ModelFormatError with bytes of ${name} flipped`, async () => {
			const original = load(name);
			const reasons = new Map<string, number>();
			let slowest = 0;
			for (let at = 0; at < original.length; at += 11) {
				const bytes = original.slice();
				const mask = [0xff, 0x01, 0x80][at % 3];
				bytes[at] ^= mask;
				const start = Date.now();
				const reason = await outcome(bytes, name, `byte ${at} ^ ${mask}`);
				slowest = Math.max(slowest, Date.now() - start);
				reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
			}
			assert.ok(slowest < 2000, `one read took ${slowest} ms`);
			assert.ok((reasons.get('corrupt') ?? 0) > 20, JSON.stringify([...reasons]));
		});
	}
});
