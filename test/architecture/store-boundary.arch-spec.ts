import { callsOf, literalsAndNames, productionFiles, type SourceFile } from './source-tree.js';

/**
 * The store boundary, read from the source (docs/decisions/0013-layers-and-seams.md):
 * - only `src/store/**` touches the store's tables (`fhir_resource`, `fhir_resource_version`,
 *   `fhir_search_*`) or calls the `chartwarden_holds` SQL function; features ask the store
 *   through its ports (`FhirStore`, `PatientRecordIndex`) in the domain's words;
 * - only repositories (`*.repository.ts`, `*-queries.ts`), the store and the database layer
 *   call `sqlOf(unit)` to reach the connection behind a `UnitOfWork`;
 * - services compose and hold no SQL.
 * Code only: comments may name what they do not use. Migrations live outside src/.
 */

/** What belongs to the store alone: its tables and its holds function. */
const STORE_OWNED = /\b(fhir_resource(_version)?|fhir_search_\w*|chartwarden_holds)\b/;

/** Where `sqlOf` may be called. */
const MAY_CALL_SQL_OF = [/^src\/store\//, /^src\/database\//, /\.repository\.ts$/, /-queries\.ts$/];

/** A statement in a string: what a service must leave to a repository. */
const SQL_STATEMENT = [/\bSELECT\s/, /\bINSERT\s+INTO\b/, /\bUPDATE\s[^]*\bSET\b/, /\bDELETE\s+FROM\b/];

const outsideStore = (f: SourceFile) => !f.path.startsWith('src/store/');

describe('architecture: the store boundary (decision 0013)', () => {
  it('the readers see what the store itself does (the walk itself works)', () => {
    const store = productionFiles().filter((f) => !outsideStore(f));
    expect(store.some((file) => literalsAndNames(file).strings.some((s) => STORE_OWNED.test(s.text)))).toBe(true);
    expect(store.some((file) => callsOf(file, 'sqlOf').length > 0)).toBe(true);
  });

  it('no file under src/ outside src/store/ names the store\'s tables or calls chartwarden_holds', () => {
    const offences = productionFiles()
      .filter(outsideStore)
      .flatMap((file) => {
        const { strings, names } = literalsAndNames(file);
        return [...strings, ...names].filter((s) => STORE_OWNED.test(s.text)).map((s) => `${file.path}:${s.line} names ${STORE_OWNED.exec(s.text)?.[0]}`);
      });
    expect(offences).toEqual([]);
  });

  it('sqlOf(…) is called only in src/store/**, src/database/**, *.repository.ts and *-queries.ts', () => {
    const offences = productionFiles()
      .filter((f) => !MAY_CALL_SQL_OF.some((allowed) => allowed.test(f.path)))
      .flatMap((file) => callsOf(file, 'sqlOf').map((line) => `${file.path}:${line} calls sqlOf (only a repository or the store may)`));
    expect(offences).toEqual([]);
  });

  it('no *.service.ts holds SQL (SELECT, INSERT INTO, UPDATE … SET, DELETE FROM) in a string or template', () => {
    const offences = productionFiles()
      .filter((f) => f.path.endsWith('.service.ts'))
      .flatMap((file) =>
        literalsAndNames(file)
          .strings.filter((s) => SQL_STATEMENT.some((statement) => statement.test(s.text)))
          .map((s) => `${file.path}:${s.line} holds SQL: ${s.text.replace(/\s+/g, ' ').slice(0, 60)}`),
      );
    expect(offences).toEqual([]);
  });
});
