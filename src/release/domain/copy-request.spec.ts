import { missingEvidence, sameIdentity, sniffEvidenceType } from './copy-request.js';
import { DEFAULT_CHECKLISTS } from '../../policy/domain/copy-checklists.js';
import { parseCopyRequest } from '../dto/copy-request.dto.js';
import { ReleaseError } from '../release.errors.js';

describe('copy request domain (R-30)', () => {
  it('R-30: the missing evidence is every checklist item not presented, an alternative satisfied by any of its kinds', () => {
    const insurer = DEFAULT_CHECKLISTS['commercial-insurer'];
    expect(missingEvidence(insurer, [])).toEqual(['legal-request', 'officer-id', 'work-id', 'insurance-contract', 'patient-consent or heir-consent']);
    expect(missingEvidence(insurer, ['legal-request', 'officer-id', 'work-id', 'insurance-contract', 'heir-consent'])).toEqual([]);
    expect(missingEvidence(insurer, ['legal-request', 'officer-id', 'work-id', 'insurance-contract', 'id-card'])).toEqual(['patient-consent or heir-consent']);
    expect(missingEvidence(DEFAULT_CHECKLISTS.agent, ['id-card', 'id-card', 'power-of-attorney'])).toEqual(['agent-id', 'proof-of-agency']);
  });

  it('R-30: the shipped checklists follow the regulation table', () => {
    expect(DEFAULT_CHECKLISTS.patient).toEqual(['id-card']);
    expect(DEFAULT_CHECKLISTS['heir-agent']).toEqual(expect.arrayContaining([...DEFAULT_CHECKLISTS.heir, 'agent-id', 'proof-of-agency', 'power-of-attorney']));
    for (const institution of ['police', 'court', 'social-insurance', 'malpractice-assessment'] as const) expect(DEFAULT_CHECKLISTS[institution]).toEqual(['legal-request', 'officer-id', 'work-id']);
  });

  it('reads a request, naming every problem at once', () => {
    expect(parseCopyRequest({ patient: 'Patient/p1', requesterType: 'heir', requester: { name: ' 李四 ', idNumber: '1101' }, purpose: '继承', scope: { encounters: ['Encounter/e1', 'e1'] } })).toEqual({
      patient: 'p1',
      requesterType: 'heir',
      requester: { name: '李四', idNumber: '1101' },
      purpose: '继承',
      scope: { encounters: ['e1'] },
    });
    const error = (() => {
      try {
        parseCopyRequest({ patient: 'x y', requesterType: 'neighbour', scope: {} });
      } catch (e) {
        return e as ReleaseError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ReleaseError);
    for (const part of ['patient:', 'requesterType:', 'requester.name', 'requester.idNumber', 'purpose:', 'scope:']) expect(error?.message).toContain(part);
  });

  it('R-33: the recipient is the requester when the ID numbers match, spaces and case aside', () => {
    expect(sameIdentity({ name: '张三', idNumber: '11010119900101123x' }, { name: '张三', idNumber: '110101 19900101 123X' })).toBe(true);
    expect(sameIdentity({ name: '张三', idNumber: '1101' }, { name: '张三', idNumber: '' })).toBe(false);
    expect(sameIdentity({ name: '张三', idNumber: '1101' }, { name: '张三', idNumber: '1102' })).toBe(false);
  });

  it('evidence files are recognised by their signature and their end marker, not by a few leading bytes', () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('…chunks…'), Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82])]);
    expect(sniffEvidenceType(Buffer.from('%PDF-1.7\n…\n%%EOF\n'))).toBe('application/pdf');
    expect(sniffEvidenceType(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 0xff, 0xd9, 0x0a]))).toBe('image/jpeg');
    // A phone's motion photo: the JPEG, then an MP4 after its end marker.
    expect(sniffEvidenceType(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 0xff, 0xd9]), Buffer.from('....ftypmp42')]))).toBe('image/jpeg');
    expect(sniffEvidenceType(png)).toBe('image/png');
    // Dressed-up files: the right first bytes, anything after.
    expect(sniffEvidenceType(Buffer.from('%PDF-<html><script>alert(1)</script>'))).toBeUndefined();
    expect(sniffEvidenceType(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('<html>')]))).toBeUndefined();
    expect(sniffEvidenceType(png.subarray(0, png.length - 1))).toBeUndefined();
    expect(sniffEvidenceType(Buffer.from('<svg/>'))).toBeUndefined();
    expect(sniffEvidenceType(Buffer.from('%PD'))).toBeUndefined();
  });
});
