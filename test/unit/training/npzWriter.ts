/** A minimal stored (uncompressed) .npz writer for training tests. */
import { writeFileSync } from 'node:fs';
import { crc32 } from '../../../src/formats/zip';

export interface NpyArray {
	readonly descr: '<f4' | '|u1' | '<i8' | '<i4';
	readonly shape: readonly number[];
	readonly values: ArrayLike<number>;
}

function npy(array: NpyArray): Uint8Array {
	let header = `{'descr': '${array.descr}', 'fortran_order': False, 'shape': (${array.shape.join(', ')}${array.shape.length === 1 ? ',' : ''}), }`;
	const total = 10 + header.length + 1;
	header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
	const size = array.descr === '<f4' || array.descr === '<i4' ? 4 : array.descr === '<i8' ? 8 : 1;
	const out = new Uint8Array(10 + header.length + array.values.length * size);
	out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
	out.set(new TextEncoder().encode(header), 10);
	const view = new DataView(out.buffer);
	for (let i = 0; i < array.values.length; i++) {
		const at = 10 + header.length + i * size;
		if (array.descr === '<f4') view.setFloat32(at, array.values[i], true);
		else if (array.descr === '<i4') view.setInt32(at, array.values[i], true);
		else if (array.descr === '<i8') view.setBigInt64(at, BigInt(array.values[i]), true);
		else view.setUint8(at, array.values[i]);
	}
	return out;
}

export function writeNpzFile(path: string, arrays: Record<string, NpyArray>): void {
	const locals: Uint8Array[] = [];
	const centrals: Uint8Array[] = [];
	let offset = 0;
	for (const [key, array] of Object.entries(arrays)) {
		const name = new TextEncoder().encode(`${key}.npy`);
		const data = npy(array);
		const crc = crc32(data);
		const local = new Uint8Array(30 + name.length);
		const lv = new DataView(local.buffer);
		lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 20, true); lv.setUint32(14, crc, true);
		lv.setUint32(18, data.length, true); lv.setUint32(22, data.length, true); lv.setUint16(26, name.length, true);
		local.set(name, 30);
		const central = new Uint8Array(46 + name.length);
		const cv = new DataView(central.buffer);
		cv.setUint32(0, 0x02014b50, true); cv.setUint16(4, 20, true); cv.setUint16(6, 20, true); cv.setUint32(16, crc, true);
		cv.setUint32(20, data.length, true); cv.setUint32(24, data.length, true); cv.setUint16(28, name.length, true); cv.setUint32(42, offset, true);
		central.set(name, 46);
		locals.push(local, data);
		centrals.push(central);
		offset += local.length + data.length;
	}
	const centralSize = centrals.reduce((n, c) => n + c.length, 0);
	const end = new Uint8Array(22);
	const ev = new DataView(end.buffer);
	ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, centrals.length, true); ev.setUint16(10, centrals.length, true);
	ev.setUint32(12, centralSize, true); ev.setUint32(16, offset, true);
	writeFileSync(path, Buffer.concat([...locals, ...centrals, end]));
}
