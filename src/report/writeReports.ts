import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../core/errors';
import { writeFileAtomic } from '../formats/atomicWrite';
import { toJson } from '../shared/format';
import type { AnalysisResultDto } from '../shared/analysis';
import type { ExportFormat } from '../shared/protocol';
import { renderCsvReport } from './csvReport';
import { renderHtmlReport } from './htmlReport';
import type { HtmlReportOptions } from './htmlReport';

export interface WriteOptions {
	/** Replace an existing file (the CLI's --force; the extension after its save dialog asked). */
	readonly force?: boolean;
	/** The model the report is about: never overwritten, whatever `force` says. */
	readonly inputPath?: string;
}

/** Renders one report format as text. */
export function renderReport(result: AnalysisResultDto, format: ExportFormat, options: HtmlReportOptions = {}): string {
	switch (format) {
		case 'html':
			return renderHtmlReport(result, options);
		case 'csv':
			return renderCsvReport(result);
		case 'json':
			return `${toJson(result)}\n`;
	}
}

/**
 * Writes `text` to a new file atomically (formats/atomicWrite: temp file in the same folder,
 * fsync, no-clobber move), refusing the model itself and, without `force`, an existing file
 * with a UsageError that says how to allow it.
 */
export async function writeTextFileAtomic(outPath: string, text: string, options: WriteOptions = {}): Promise<void> {
	if (options.inputPath !== undefined && resolve(options.inputPath) === resolve(outPath)) {
		throw new UsageError(`${outPath}: is the model itself; choose another output file.`);
	}
	if (!options.force && (await exists(outPath))) {
		throw new UsageError(`${outPath}: already exists (use --force to overwrite it).`);
	}
	await writeFileAtomic(outPath, async (handle) => {
		await handle.writeFile(text, 'utf8');
	}, { force: options.force, inputPath: options.inputPath });
}

/** Writes each requested report (html/csv/json) for one analysis; returns the paths written. */
export async function writeReports(result: AnalysisResultDto, outputs: Partial<Record<ExportFormat, string>>, options: WriteOptions & HtmlReportOptions = {}): Promise<string[]> {
	const entries = (Object.entries(outputs) as [ExportFormat, string | undefined][]).filter((e): e is [ExportFormat, string] => e[1] !== undefined);
	const targets = entries.map(([, path]) => resolve(path));
	if (new Set(targets).size !== targets.length) {
		throw new UsageError('each report needs its own output file.');
	}
	// Check every target first, so a refused overwrite leaves nothing half done.
	for (const [, path] of entries) {
		if (!options.force && (await exists(path))) {
			throw new UsageError(`${path}: already exists (use --force to overwrite it).`);
		}
	}
	const written: string[] = [];
	for (const [format, path] of entries) {
		await writeTextFileAtomic(path, renderReport(result, format, options), options);
		written.push(path);
	}
	return written;
}

async function exists(path: string): Promise<boolean> {
	try {
		await fs.lstat(path);
		return true;
	} catch {
		return false;
	}
}
