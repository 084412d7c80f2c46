import { Cursor, checkChecksum } from './io';
import type { H5Context } from './io';

/** Header message types this reader uses. */
export const Msg = {
	dataspace: 0x01, linkInfo: 0x02, datatype: 0x03, link: 0x06, external: 0x07, layout: 0x08, groupInfo: 0x0a,
	filters: 0x0b, attribute: 0x0c, continuation: 0x10, symbolTable: 0x11, attributeInfo: 0x15,
} as const;

/** One header message: its body and where that body lies in the file. */
export interface Message {
	readonly type: number;
	/** Bit 1: the body is a reference to a shared message. */
	readonly flags: number;
	readonly bytes: Uint8Array;
	/** Absolute file offset of `bytes`. */
	readonly offset: number;
	/** For version 2 headers: the checksummed chunk that holds the message ([start, end), checksum at end). */
	readonly chunk?: { readonly start: number; readonly end: number };
}

export interface ObjectHeader {
	readonly address: number;
	readonly version: number;
	readonly messages: readonly Message[];
}

/** More continuation chunks than this in one header is a loop or garbage. */
const maxChunks = 4096;

/**
 * Reads an object header (version 1, or version 2 'OHDR' with its checksums checked) with all its
 * continuation chunks; cached by address. A continuation chunk seen twice is 'corrupt'.
 */
export function readObjectHeader(ctx: H5Context, address: number): Promise<ObjectHeader> {
	return ctx.cached(`ohdr:${address}`, async () => {
		const head = await ctx.cursor(address, Math.min(34, ctx.source.length - ctx.abs(address, 'an object header')), 'an object header');
		const v2 = head.bytes.length >= 4 && String.fromCharCode(...head.bytes.subarray(0, 4)) === 'OHDR';
		const messages: Message[] = [];
		const chunks: { at: number; length: number }[] = [];
		let version = 1;
		let flags = 0;
		if (v2) {
			head.skip(4);
			version = head.u8();
			flags = head.u8();
			if (version !== 2) throw ctx.unsupported(`object header version ${version}`);
			head.skip((flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0));
			const size = head.uint(1 << (flags & 3));
			const chunk = await ctx.cursor(address, head.pos + size + 4, 'an object header');
			checkChecksum(ctx, chunk.bytes, head.pos + size, `the object header at ${address}`);
			chunk.skip(head.pos);
			parseV2(chunk.sub(size), flags, { start: chunk.fileOffset, end: chunk.fileOffset + head.pos + size }, messages, chunks);
		} else {
			version = head.u8();
			if (version !== 1) throw ctx.corrupt(`no object header at address ${address}`);
			const size = head.skip(7).u32();
			parseV1(await ctx.cursor(address + 16, size, 'an object header'), messages, chunks);
		}
		const seen = new Set<number>([address]);
		for (let i = 0; i < chunks.length; i++) {
			const { at, length } = chunks[i];
			if (seen.has(at) || i >= maxChunks) throw ctx.corrupt(`the object header at ${address} continues into itself`);
			seen.add(at);
			const c = await ctx.cursor(at, length, 'an object header continuation');
			if (v2) {
				c.signature('OCHK');
				checkChecksum(ctx, c.bytes, length - 4, `the object header at ${address}`);
				parseV2(c.sub(length - 8), flags, { start: c.fileOffset, end: c.fileOffset + length - 4 }, messages, chunks);
			} else {
				parseV1(c, messages, chunks);
			}
		}
		return { address, version, messages };
	});
}

function addContinuation(body: Cursor, chunks: { at: number; length: number }[]): void {
	chunks.push({ at: body.offset(), length: body.length() });
}

function parseV1(c: Cursor, messages: Message[], chunks: { at: number; length: number }[]): void {
	while (c.left >= 8) {
		const type = c.u16();
		const size = c.u16();
		const flags = c.u8();
		c.skip(3);
		const body = c.sub(size, 'an object header message');
		if (type === Msg.continuation) {
			addContinuation(body, chunks);
		} else {
			messages.push({ type, flags, bytes: body.bytes, offset: body.fileOffset });
		}
	}
}

function parseV2(c: Cursor, headerFlags: number, chunk: Message['chunk'], messages: Message[], chunks: { at: number; length: number }[]): void {
	const headSize = headerFlags & 4 ? 6 : 4;
	while (c.left >= headSize) {
		const type = c.u8();
		const size = c.u16();
		const flags = c.u8();
		c.skip(headSize - 4);
		const body = c.sub(size, 'an object header message');
		if (type === Msg.continuation) {
			addContinuation(body, chunks);
		} else {
			messages.push({ type, flags, bytes: body.bytes, offset: body.fileOffset, chunk });
		}
	}
}

/** A cursor over a message body. */
export function body(ctx: H5Context, message: Message): Cursor {
	return new Cursor(ctx, message.bytes, 'an object header message', message.offset);
}

/** The first message of `type`, if any. */
export function find(header: ObjectHeader, type: number): Message | undefined {
	return header.messages.find((m) => m.type === type);
}
