import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bufferSource } from '../../../src/formats/byteSource';
import { crc32, readZipDirectory, readZipEntry, zipEntryDataOffset } from '../../../src/formats/zip';
import { makeZip } from '../../helpers/zip';
import { rejectsWith } from './fixtureExpectations';

const fixtures = join(__dirname, '..', '..', 'fixtures', 'pytorch');



const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

void describe('zip reader', () => {
	void it('reads the central directory torch writes (ZIP64 end record, data descriptors, 64-byte alignment)', async () => {
		const source = bufferSource(readFileSync(join(fixtures, 'bare.pt')), 'bare.pt');
		const entries = await readZipDirectory(source);
		assert.deepEqual(entries.map((e) => e.name).slice(0, 2), ['bare/data.pkl', 'bare/data/0']);
		assert.ok(entries.some((e) => e.name === 'bare/version'));
		for (const entry of entries) {
			assert.equal(entry.method, 0);
			assert.equal(entry.size, entry.compressedSize);
			assert.equal((await zipEntryDataOffset(source, entry)) % 64, 0, `${entry.name} is 64-byte aligned`);
			const data = await readZipEntry(source, entry);
			assert.equal(data.length, entry.size);
			assert.equal(crc32(data), entry.crc32, `${entry.name} CRC`);
		}
		const version = entries.find((e) => e.name === 'bare/version');
		assert.ok(version);
		assert.equal(text(await readZipEntry(source, version)), '3\n');
	});

	void it('inflates deflated entries to the same bytes as the stored ones', async () => {
		const stored = bufferSource(readFileSync(join(fixtures, 'bare.pt')), 'bare.pt');
		const deflated = bufferSource(readFileSync(join(fixtures, 'deflated.pt')), 'deflated.pt');
		const a = await readZipDirectory(stored);
		const b = await readZipDirectory(deflated);
		assert.ok(b.some((e) => e.method === 8));
		for (const entry of b) {
			const twin = a.find((e) => e.name === entry.name.replace('deflated/', 'bare/'));
			assert.ok(twin, entry.name);
			assert.deepEqual(await readZipEntry(deflated, entry), await readZipEntry(stored, twin));
		}
	});

	void it('reads stored entries straight into a reused buffer', async () => {
		const zip = makeZip([{ name: 'a', data: new Uint8Array([1, 2, 3, 4]) }, { name: 'b', data: new Uint8Array([5, 6]), method: 8 }]);
		const source = bufferSource(zip, 'two.zip');
		const [a, b] = await readZipDirectory(source);
		const into = new Uint8Array(16);
		const got = await readZipEntry(source, a, into);
		assert.equal(got.buffer, into.buffer);
		assert.deepEqual([...got], [1, 2, 3, 4]);
		const small = new Uint8Array(2);
		assert.deepEqual([...(await readZipEntry(source, a, small))], [1, 2, 3, 4]);
		assert.deepEqual([...(await readZipEntry(source, b, into))], [5, 6]);
	});

	void it('finds the end record behind an archive comment', async () => {
		const zip = makeZip([{ name: 'x', data: new Uint8Array([9]) }], { comment: 'PK\x05\x06 not a record '.repeat(100) });
		const entries = await readZipDirectory(bufferSource(zip, 'comment.zip'));
		assert.deepEqual(entries.map((e) => e.name), ['x']);
	});

	void it('computes the standard CRC-32', () => {
		assert.equal(crc32(new TextEncoder().encode('hello')), 0x3610a686);
		assert.equal(crc32(new Uint8Array(0)), 0);
	});

	void describe('hostile or damaged archives fail fast with a reason', () => {
		const payload = new Uint8Array(64).fill(7);

		void it('no end record (truncated download)', async () => {
			const zip = makeZip([{ name: 'a', data: payload }]);
			await rejectsWith(readZipDirectory(bufferSource(zip.subarray(0, zip.length - 30), 'cut.pt')), 'truncated', 'cut.pt');
			await rejectsWith(readZipDirectory(bufferSource(new Uint8Array(10), 'tiny.pt')), 'truncated', 'tiny.pt');
		});

		void it('a central directory past the end of the file', async () => {
			await rejectsWith(readZipDirectory(bufferSource(makeZip([{ name: 'a', data: payload }], { directoryOffset: 0x7fff0000 }), 'far.pt')), 'truncated', 'far.pt');
		});

		void it('an absurd entry count', async () => {
			await rejectsWith(readZipDirectory(bufferSource(makeZip([{ name: 'a', data: payload }], { count: 60000 }), 'count.pt')), 'corrupt', 'count.pt');
		});

		void it('an entry whose data lies past the end of the file', async () => {
			await rejectsWith(readZipDirectory(bufferSource(makeZip([{ name: 'a', data: payload, declaredOffset: 0x7ffffff0 }]), 'offset.pt')), 'corrupt', 'offset.pt');
			await rejectsWith(readZipDirectory(bufferSource(makeZip([{ name: 'a', data: payload, declaredCompressedSize: 0x7ffffff0, declaredSize: 0x7ffffff0 }]), 'huge.pt')), 'corrupt', 'huge.pt');
		});

		void it('a stored entry whose size lies', async () => {
			await rejectsWith(readZipDirectory(bufferSource(makeZip([{ name: 'a', data: payload, declaredSize: 100 }]), 'stored.pt')), 'corrupt', 'stored.pt');
		});

		void it('a deflated entry that declares more than deflate can produce, without allocating it', async () => {
			const source = bufferSource(makeZip([{ name: 'a', data: payload, method: 8, declaredSize: 0xfffffff0 }]), 'bomb.pt');
			await rejectsWith(readZipDirectory(source), 'corrupt', 'bomb.pt');
		});

		void it('a deflated entry that inflates to more or less than declared', async () => {
			const big = new Uint8Array(100000).fill(1);
			const less = bufferSource(makeZip([{ name: 'a', data: big, method: 8, declaredSize: 1000 }]), 'less.pt');
			const [a] = await readZipDirectory(less);
			await rejectsWith(readZipEntry(less, a), 'corrupt', 'less.pt');
			const more = bufferSource(makeZip([{ name: 'a', data: payload, method: 8, declaredSize: 65 }]), 'more.pt');
			const [b] = await readZipDirectory(more);
			await rejectsWith(readZipEntry(more, b), 'corrupt', 'more.pt');
		});

		void it('garbage where a deflate stream should be', async () => {
			const zip = makeZip([{ name: 'a', data: payload, method: 8 }]);
			const source = bufferSource(zip, 'garbage.pt');
			const [a] = await readZipDirectory(source);
			zip.fill(0xff, 30 + 1, 30 + 1 + a.compressedSize);
			await rejectsWith(readZipEntry(source, a), 'corrupt', 'garbage.pt');
		});

		void it('a local header that is not one', async () => {
			const zip = makeZip([{ name: 'a', data: payload }, { name: 'b', data: payload }]);
			const source = bufferSource(zip, 'local.pt');
			const entries = await readZipDirectory(source);
			zip[entries[1].localHeaderOffset] = 0;
			await rejectsWith(readZipEntry(source, entries[1]), 'corrupt', 'local.pt');
		});

		void it('an unsupported compression method', async () => {
			const zip = makeZip([{ name: 'a', data: payload }]);
			new DataView(zip.buffer).setUint16(8, 14, true); // LZMA in the local header
			const centralAt = zip.length - 22 - 47;
			new DataView(zip.buffer).setUint16(centralAt + 10, 14, true);
			const source = bufferSource(zip, 'lzma.pt');
			const [a] = await readZipDirectory(source);
			await rejectsWith(readZipEntry(source, a), 'unsupported-format', 'lzma.pt');
		});

		void it('a ZIP64 locator that points outside the file', async () => {
			const zip = makeZip([{ name: 'a', data: payload }]);
			const withLocator = new Uint8Array(zip.length + 20);
			const endAt = zip.length - 22;
			withLocator.set(zip.subarray(0, endAt));
			const lv = new DataView(withLocator.buffer);
			lv.setUint32(endAt, 0x07064b50, true);
			lv.setUint32(endAt + 8, 0x7ffffff0, true);
			withLocator.set(zip.subarray(endAt), endAt + 20);
			await rejectsWith(readZipDirectory(bufferSource(withLocator, 'zip64.pt')), 'corrupt', 'zip64.pt');
		});
	});
});
