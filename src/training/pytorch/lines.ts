/**
 * Reading the PyTorch engine's JSON-lines protocol from a stream that arrives in arbitrary chunks:
 * a pipe (stdout) or a file another process appends to (`--events-file`, tailed while the engine
 * runs as a VS Code task and its stdout goes to a terminal).
 */

import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/** Splits text chunks into lines; a line split over two chunks (or a UTF-8 character split over two buffers) comes out whole. */
export class LineSplitter {
	private partial = '';
	private readonly decoder = new StringDecoder('utf8');

	/** Feeds a chunk; returns the lines it completed (without their `\n` / `\r\n`). */
	push(chunk: string | Uint8Array): string[] {
		const text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
		const lines = text.split('\n');
		this.partial = lines.pop() ?? '';
		return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
	}

	/** The unterminated rest, if any (the stream ended). */
	flush(): string[] {
		const rest = this.partial + this.decoder.end();
		this.partial = '';
		return rest.trim() === '' ? [] : [rest];
	}
}

/** Keeps the last `max` lines of a text stream (stderr), for a one-line error message. */
export class TailBuffer {
	private readonly lines: string[] = [];
	private readonly splitter = new LineSplitter();

	constructor(private readonly max = 20) {}

	push(chunk: string | Uint8Array): void {
		for (const line of this.splitter.push(chunk)) this.add(line);
	}

	/** The last non-blank line (the rest of an unterminated line counts). */
	lastLine(): string | undefined {
		for (const line of this.splitter.flush()) this.add(line);
		return this.lines[this.lines.length - 1];
	}

	private add(line: string): void {
		if (line.trim() === '') return;
		this.lines.push(line.trim());
		if (this.lines.length > this.max) this.lines.shift();
	}
}

export interface FileTailOptions {
	/** Polling interval next to fs.watch, which can miss or merge changes (default 250 ms). */
	readonly pollMs?: number;
}

/**
 * Follows a file that another process appends lines to: fs.watch plus a poll, reading only the
 * new bytes each time. `close()` reads what is left and flushes an unterminated last line.
 */
export class FileTail {
	private offset = 0;
	private handle: FileHandle | undefined;
	private watcher: FSWatcher | undefined;
	private timer: NodeJS.Timeout | undefined;
	private reading: Promise<void> = Promise.resolve();
	private readonly splitter = new LineSplitter();
	private closed = false;

	private constructor(private readonly path: string, private readonly onLine: (line: string) => void) {}

	/** Starts following `path` (which must exist) from its beginning. */
	static async start(path: string, onLine: (line: string) => void, options: FileTailOptions = {}): Promise<FileTail> {
		const tail = new FileTail(path, onLine);
		tail.handle = await open(path, 'r');
		try {
			tail.watcher = watch(path, { persistent: false }, () => void tail.poke());
			tail.watcher.on('error', () => tail.watcher?.close());
		} catch {
			// Some file systems have no change notifications: the poll alone does it.
		}
		tail.timer = setInterval(() => void tail.poke(), options.pollMs ?? 250);
		tail.timer.unref?.();
		void tail.poke();
		return tail;
	}

	/** Reads whatever was appended since the last read (serialized: one read at a time). */
	poke(): Promise<void> {
		if (this.closed) return this.reading;
		this.reading = this.reading.then(() => this.readNew()).catch(() => undefined);
		return this.reading;
	}

	/** A final read, then stops; an unterminated last line is delivered too. */
	async close(): Promise<void> {
		if (this.closed) return;
		await this.poke();
		this.closed = true;
		clearInterval(this.timer);
		this.watcher?.close();
		for (const line of this.splitter.flush()) this.onLine(line);
		await this.handle?.close();
		this.handle = undefined;
	}

	private async readNew(): Promise<void> {
		const handle = this.handle;
		if (!handle) return;
		const buffer = Buffer.alloc(64 * 1024);
		for (;;) {
			const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
			if (bytesRead === 0) return;
			this.offset += bytesRead;
			for (const line of this.splitter.push(buffer.subarray(0, bytesRead))) this.onLine(line);
		}
	}

	/** The file followed. */
	get file(): string {
		return this.path;
	}
}
