// A node:test reporter for test/run.mjs: one JSON line per skipped test or suite (name, file,
// reason). node's own summary counts skipped tests but not skipped suites, and names neither.
export default async function* skipReporter(source) {
	for await (const event of source) {
		if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.skip !== undefined && event.data.skip !== false) {
			const { name, file, skip } = event.data;
			yield `${JSON.stringify({ name, file, reason: typeof skip === 'string' ? skip : '' })}\n`;
		}
	}
}
