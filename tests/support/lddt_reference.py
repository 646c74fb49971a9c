"""lDDT-Ca of a model against a native with DeepMind's own `alphafold.model.lddt.lddt`.

Usage: lddt_reference.py MODEL.pdb NATIVE.pdb, printing the global lDDT-Ca on stdout.
Residues correspond as in `helixfold score`: Ca atoms with equal residue number and insertion
code (each file has one chain), first model, standard residues; only common residues are scored.
"""
import sys

import gemmi
import numpy as np
from alphafold.model.lddt import lddt


def calphas(path):
    structure = gemmi.read_structure(path)
    atoms = {}
    for chain in structure[0]:
        for residue in chain:
            ca = residue.find_atom("CA", "*")
            key = (residue.seqid.num, residue.seqid.icode)
            if ca is not None and key not in atoms:
                atoms[key] = [ca.pos.x, ca.pos.y, ca.pos.z]
    return atoms


model, native = calphas(sys.argv[1]), calphas(sys.argv[2])
common = [key for key in model if key in native]
predicted = np.array([[model[k] for k in common]], dtype=np.float32)
true = np.array([[native[k] for k in common]], dtype=np.float32)
mask = np.ones((1, len(common), 1), dtype=np.float32)
print("%.6f" % float(lddt(predicted, true, mask)[0]))
