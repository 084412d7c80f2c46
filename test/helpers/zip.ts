import { deflateRawSync } from 'node:zlib';
import { concatBytes } from '../../src/core/bytes';
import { crc32 } from '../../src/formats/zip';

export interface TestEntry {
	name: string;
	data: Uint8Array;
	method?: 0 | 8;
	/** Overrides the uncompressed size written in the central directory (a lie). */
	declaredSize?: number;
	/** Overrides the compressed size written in the central directory. */
	declaredCompressedSize?: number;
	/** Overrides the local header offset written in the central directory. */
	declaredOffset?: number;
}

/** A minimal zip writer for tests: local headers with sizes, a central directory, an end record. */
export function makeZip(entries: TestEntry[], options: { count?: number; directoryOffset?: number; comment?: string } = {}): Uint8Array {
	const parts: Uint8Array[] = [];
	const central: Uint8Array[] = [];
	let position = 0;
	const enc = new TextEncoder();
	for (const entry of entries) {
		const name = enc.encode(entry.name);
		const method = entry.method ?? 0;
		const payload = method === 8 ? new Uint8Array(deflateRawSync(entry.data)) : entry.data;
		const crc = crc32(entry.data);
		const local = new Uint8Array(30 + name.length);
		const lv = new DataView(local.buffer);
		lv.setUint32(0, 0x04034b50, true);
		lv.setUint16(4, 20, true);
		lv.setUint16(8, method, true);
		lv.setUint32(14, crc, true);
		lv.setUint32(18, payload.length, true);
		lv.setUint32(22, entry.data.length, true);
		lv.setUint16(26, name.length, true);
		local.set(name, 30);
		const header = new Uint8Array(46 + name.length);
		const cv = new DataView(header.buffer);
		cv.setUint32(0, 0x02014b50, true);
		cv.setUint16(4, 20, true);
		cv.setUint16(6, 20, true);
		cv.setUint16(10, method, true);
		cv.setUint32(16, crc, true);
		cv.setUint32(20, entry.declaredCompressedSize ?? payload.length, true);
		cv.setUint32(24, entry.declaredSize ?? entry.data.length, true);
		cv.setUint16(28, name.length, true);
		cv.setUint32(42, entry.declaredOffset ?? position, true);
		header.set(name, 46);
		central.push(header);
		parts.push(local, payload);
		position += local.length + payload.length;
	}
	const directoryOffset = position;
	const directorySize = central.reduce((n, c) => n + c.length, 0);
	const comment = enc.encode(options.comment ?? '');
	const end = new Uint8Array(22 + comment.length);
	const ev = new DataView(end.buffer);
	ev.setUint32(0, 0x06054b50, true);
	ev.setUint16(8, options.count ?? entries.length, true);
	ev.setUint16(10, options.count ?? entries.length, true);
	ev.setUint32(12, directorySize, true);
	ev.setUint32(16, options.directoryOffset ?? directoryOffset, true);
	ev.setUint16(20, comment.length, true);
	end.set(comment, 22);
	return concatBytes([...parts, ...central, end]);
}
