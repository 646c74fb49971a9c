"""Independent readings of structure files for helixfold's structure I/O tests.

Usage: structure_facts.py MODE PATH, printing JSON on stdout.
  biopython-pdb / biopython-cif: Bio.PDB's PDBParser / MMCIFParser, first model.
  gemmi: gemmi.read_structure (PDB or mmCIF), first model, first alternate conformer.
  gemmi-mmcif-header: gemmi's view of an mmCIF file's protein chains and header.
The atom modes list, for residues of the 20 standard amino acids and MSE, every atom whose name
is one of AlphaFold's 37 atom types (MSE's SE reported as SD):
  [chain, residue number, insertion code, one-letter code, atom name, x, y, z, B-factor].
"""
import gzip
import io
import json
import sys

ATOM37 = set(
    "N CA C CB O CG CG1 CG2 OG OG1 SG CD CD1 CD2 ND1 ND2 OD1 OD2 SD CE CE1 CE2 CE3 NE NE1 "
    "NE2 OE1 OE2 CH2 NH1 NH2 OH CZ CZ2 CZ3 NZ OXT".split())
ONE_LETTER = dict(zip(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL".split(),
    "ARNDCQEGHILKMFPSTWYV"))
ONE_LETTER["MSE"] = "M"


def atom_row(chain, number, icode, resname, name, xyz, b):
    if resname == "MSE" and name == "SE":
        name = "SD"
    if resname not in ONE_LETTER or name not in ATOM37:
        return None
    return [chain, int(number), icode or " ", ONE_LETTER[resname], name,
            float(xyz[0]), float(xyz[1]), float(xyz[2]), float(b)]


def text_handle(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode())


def biopython_atoms(path, mmcif):
    from Bio.PDB import MMCIFParser, PDBParser
    parser = MMCIFParser(QUIET=True) if mmcif else PDBParser(QUIET=True)
    model = next(parser.get_structure("x", text_handle(path)).get_models())
    rows = []
    for chain in model:
        for residue in chain:
            hetflag, number, icode = residue.id
            if hetflag not in (" ", "H_MSE"):
                continue
            for atom in residue:
                row = atom_row(chain.id, number, icode, residue.get_resname(), atom.get_name(),
                               atom.coord, atom.bfactor)
                if row:
                    rows.append(row)
    return rows


def gemmi_atoms(path):
    import gemmi
    structure = gemmi.read_structure(path)
    structure.remove_alternative_conformations()
    rows = []
    for chain in structure[0]:
        for residue in chain:
            if residue.het_flag == "H" and residue.name != "MSE":
                continue
            for atom in residue:
                row = atom_row(chain.name, residue.seqid.num, residue.seqid.icode.strip(),
                               residue.name, atom.name, atom.pos.tolist(), atom.b_iso)
                if row:
                    rows.append(row)
    return rows


def gemmi_mmcif_header(path):
    import gemmi
    block = gemmi.cif.read(path).sole_block()
    structure = gemmi.make_structure_from_block(block)
    structure.setup_entities()
    model = structure[0]
    chains = {}
    for entity in structure.entities:
        if entity.entity_type != gemmi.EntityType.Polymer:
            continue
        if entity.polymer_type not in (gemmi.PolymerType.PeptideL, gemmi.PolymerType.PeptideD):
            continue
        for subchain in entity.subchains:
            residues = model.get_subchain(subchain)
            if len(residues) == 0:
                continue
            author = next(c.name for c in model if any(r.subchain == subchain for r in c))
            chains[author] = {
                "seqres_length": len(entity.full_sequence),
                "observed": len({r.label_seq for r in residues}),
                "first_observed": [residues[0].seqid.num, residues[0].seqid.icode.strip() or " "],
            }
    dates = [d for d in block.find_values("_pdbx_audit_revision_history.revision_date")]
    methods = [gemmi.cif.as_string(m).lower() for m in block.find_values("_exptl.method")]
    return {"chains": chains, "release_date": min(dates) if dates else None,
            "structure_method": ",".join(methods), "resolution": structure.resolution}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "biopython-pdb":
        result = biopython_atoms(path, mmcif=False)
    elif mode == "biopython-cif":
        result = biopython_atoms(path, mmcif=True)
    elif mode == "gemmi":
        result = gemmi_atoms(path)
    elif mode == "gemmi-mmcif-header":
        result = gemmi_mmcif_header(path)
    else:
        sys.exit(f"unknown mode {mode}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
