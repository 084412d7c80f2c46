import { numel } from '../../core/model';
import type { Hdf5Object } from './api';
import { decodeValues, isDecodable, parseDataspace, parseDatatype } from './datatype';
import type { Hdf5Type, Hdf5Value } from './datatype';
import { denseStorageObjects } from './heaps';
import { guard } from './io';
import type { Cursor, H5Context } from './io';
import { Msg, body, find, readObjectHeader } from './objectHeader';
import type { Message, ObjectHeader } from './objectHeader';

interface Attribute {
	readonly name: string;
	readonly type: Hdf5Type;
	readonly dims: number[] | null;
	readonly data: Uint8Array;
}

const utf8 = new TextDecoder();

/** A datatype message's type, following a shared (committed) datatype to its header. */
export async function datatypeOf(ctx: H5Context, message: Message | undefined, depth = 0): Promise<Hdf5Type> {
	if (!message) throw ctx.corrupt('a dataset has no datatype');
	return message.flags & 2 ? sharedType(ctx, body(ctx, message), depth) : parseDatatype(body(ctx, message));
}

async function sharedType(ctx: H5Context, c: Cursor, depth: number): Promise<Hdf5Type> {
	const version = c.u8();
	const type = c.u8();
	if (version === 1) {
		c.skip(6 + ctx.lengthSize);
	} else if (version === 3 && type === 1) {
		throw ctx.unsupported('a datatype in the shared object header message heap');
	}
	if (depth > 4) throw ctx.corrupt('shared datatypes refer to each other in a loop');
	return datatypeOf(ctx, find(await readObjectHeader(ctx, c.offset()), Msg.datatype), depth + 1);
}

/** What groups and datasets share: path, header and attributes (compact or dense). */
export abstract class Node implements Hdf5Object {
	private attrs?: Promise<Attribute[]>;

	constructor(protected readonly ctx: H5Context, readonly path: string, protected readonly header: ObjectHeader) {}

	get address(): number {
		return this.header.address;
	}

	get name(): string {
		return this.path.slice(this.path.lastIndexOf('/') + 1);
	}

	async attributeNames(): Promise<string[]> {
		return (await this.readAttributes()).map((a) => a.name);
	}

	async attribute(name: string): Promise<Hdf5Value | undefined> {
		const found = (await this.readAttributes()).find((a) => a.name === name);
		return found && guard(this.ctx, () => attributeValue(this.ctx, found));
	}

	async attributes(): Promise<Map<string, Hdf5Value>> {
		const out = new Map<string, Hdf5Value>();
		for (const a of await this.readAttributes()) {
			if (isDecodable(a.type)) {
				out.set(a.name, await guard(this.ctx, () => attributeValue(this.ctx, a)));
			}
		}
		return out;
	}

	private readAttributes(): Promise<Attribute[]> {
		this.attrs ??= guard(this.ctx, async () => {
			const { ctx } = this;
			const found: Attribute[] = [];
			for (const m of this.header.messages.filter((m) => m.type === Msg.attribute)) {
				found.push(await parseAttribute(ctx, body(ctx, m)));
			}
			const info = find(this.header, Msg.attributeInfo);
			if (info) {
				for (const c of await denseStorageObjects(ctx, body(ctx, info), 2, 0, 'an attribute')) found.push(await parseAttribute(ctx, c));
			}
			return found.sort((a, b) => compareNames(a.name, b.name));
		});
		return this.attrs;
	}
}

/** Name order as h5py lists names (byte order of the UTF-8). */
export function compareNames(a: string, b: string): number {
	return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function parseAttribute(ctx: H5Context, c: Cursor): Promise<Attribute> {
	const version = c.u8();
	if (version < 1 || version > 3) throw ctx.unsupported(`attribute message version ${version}`);
	const flags = c.u8();
	const nameSize = c.u16();
	const typeSize = c.u16();
	const spaceSize = c.u16();
	c.skip(version === 3 ? 1 : 0);
	const pad = (n: number): number => (version === 1 ? (n + 7) & ~7 : n);
	const nameBytes = c.take(pad(nameSize));
	const typeBody = c.sub(pad(typeSize), 'an attribute datatype');
	const dims = parseDataspace(c.sub(pad(spaceSize), 'an attribute dataspace'));
	const type = flags & 1 ? await sharedType(ctx, typeBody, 0) : parseDatatype(typeBody);
	const end = nameBytes.indexOf(0);
	return { name: utf8.decode(end >= 0 ? nameBytes.subarray(0, end) : nameBytes), type, dims, data: c.take(c.left) };
}

async function attributeValue(ctx: H5Context, a: Attribute): Promise<Hdf5Value> {
	if (a.dims === null) return null;
	const values = await decodeValues(ctx, a.data, a.type, numel(a.dims));
	return a.dims.length === 0 ? values[0] : values;
}
