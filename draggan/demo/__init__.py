"""The demo model's world: a procedural face family with exact landmarks, its detector, the trainer
of the shipped demo model, and the paper's landmark benchmark (Table 1) run on it.

Nothing here is needed to edit images: the editor, `draggan edit` and the engine never import this
package; `draggan benchmark`, the training script and the tests do.
"""
