import { Column } from 'typeorm';

/**
 * The columns of a copy kept exactly as handed out: the electronic copy (a FHIR
 * `document` Bundle, as canonical JSON) and the PDF, each with its SHA-256, and the PDF's page
 * count. Embedded, without a prefix, by the sealed copies of disputes and the productions of
 * copy requests.
 */
export class StoredCopyColumns {
  @Column({ name: 'bundle', type: 'text' })
  bundle!: string;

  @Column({ name: 'bundle_sha256', type: 'varchar', length: 64 })
  bundleSha256!: string;

  @Column({ name: 'pdf', type: 'bytea' })
  pdf!: Buffer;

  @Column({ name: 'pdf_sha256', type: 'varchar', length: 64 })
  pdfSha256!: string;

  @Column({ name: 'pages', type: 'integer' })
  pages!: number;
}
