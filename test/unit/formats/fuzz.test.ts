// Fuzz: for every format the tool reads, seeded mutations of its example files (bit flips,
// truncations, inflated length fields, spliced blocks) through `crossbar-lens analyze`. Each must
// end with exit 0, or exit 3 and one line naming the file; within the child's heap limit; and the
// whole run within its time limit (a hang detector: a case normally takes milliseconds).
//
// A failure prints the case's format, index and seed; replay it with
//   CROSSBAR_FUZZ_CASE=format:index node --import tsx --test test/unit/formats/fuzz.test.ts
// (add CROSSBAR_FUZZ_BASE=B for a case bench/fuzz.ts found at seed base B). CROSSBAR_FUZZ_CASES
// (default 50) sets the count per format; bench/fuzz.ts runs many more.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formats } from '../../fuzz/corpus';
import { contractBreach, heapLimitMb, runFuzz } from '../../fuzz/run';

/** The seed base of the CI corpus; bench/fuzz.ts takes others. */
const base = Number(process.env.CROSSBAR_FUZZ_BASE ?? 11);
const perFormat = Number(process.env.CROSSBAR_FUZZ_CASES ?? 50);
/** A case that needs this much heap + ArrayBuffers is reading a length it should have checked. */
const memoryBound = 256 * 1024 * 1024;

void describe('fuzz: mutated example files of every format', () => {
	const replay = process.env.CROSSBAR_FUZZ_CASE?.split(':');
	const counts = Object.fromEntries(Object.keys(formats)
		.filter((f) => !replay || f === replay[0])
		.map((f) => [f, [replay ? 1 : perFormat, replay ? Number(replay[1]) : 0] as const]));

	void it(`${Object.keys(counts).length} formats × ${replay ? 1 : perFormat} cases: exit 0 or exit 3 with one line, bounded memory, no hang`, { timeout: 600_000 }, () => {
		const run = runFuzz(counts, base, 540_000);
		assert.equal(run.failure, undefined, `the driver did not finish: ${run.failure}\nunfinished case: ${JSON.stringify(run.unfinished)} (replay: CROSSBAR_FUZZ_CASE=${run.unfinished?.format}:${run.unfinished?.index})`);
		const breaches: string[] = [];
		for (const result of run.results) {
			const breach = contractBreach(result) ?? (result.peakBytes > memoryBound ? `peak memory ${(result.peakBytes / 2 ** 20).toFixed(0)} MiB` : undefined);
			if (breach) {
				breaches.push(`${result.format}:${result.index} (seed ${result.seed}, ${result.mutation}: ${result.detail}): ${breach}`);
			}
		}
		assert.deepEqual(breaches, [], `replay one with CROSSBAR_FUZZ_CASE=format:index (heap limit ${heapLimitMb} MiB)`);
		for (const [format, [count]] of Object.entries(counts)) {
			const mine = run.results.filter((r) => r.format === format);
			assert.equal(mine.length, count, format);
			if (!replay) {
				// The corpus must exercise both outcomes: some mutations are still readable, most are refused.
				assert.ok(mine.some((r) => r.exitCode === 3), `${format}: no mutation was refused`);
			}
		}
	});
});
