import { deflateSync } from 'node:zlib';
import { concatBytes } from '../core/bytes';
import { crc32 } from '../formats/zip';

/**
 * A minimal PNG encoder (8-bit RGBA, no interlace) for the report's heatmaps: one pixel per
 * crossbar, scaled up by the browser with `image-rendering: pixelated`, so a 10,000-tile layer
 * is a few hundred bytes instead of 10,000 SVG rectangles.
 */
export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
	if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || rgba.length !== width * height * 4) {
		throw new RangeError(`encodePng: ${width}×${height} needs ${width * height * 4} RGBA bytes, got ${rgba.length}.`);
	}
	const stride = width * 4;
	const raw = new Uint8Array((stride + 1) * height);
	for (let y = 0; y < height; y++) {
		raw[y * (stride + 1)] = 0; // filter type None
		raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
	}
	const header = new Uint8Array(13);
	const view = new DataView(header.buffer);
	view.setUint32(0, width);
	view.setUint32(4, height);
	header.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type RGBA, deflate, filter 0, no interlace
	const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
	return concatBytes([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** `data:image/png;base64,…` */
export function pngDataUri(width: number, height: number, rgba: Uint8Array): string {
	return `data:image/png;base64,${Buffer.from(encodePng(width, height, rgba)).toString('base64')}`;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
	const out = new Uint8Array(12 + data.length);
	const view = new DataView(out.buffer);
	view.setUint32(0, data.length);
	for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
	out.set(data, 8);
	view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
	return out;
}

