"""Detection of rule breaches in the groups' chat records (issue #16): one module per detector,
each set-based over ``groups.chat.ChatMessage``; ``base.py`` is the contract, ``runner.py`` turns
hits into suspected violations (待核实)."""
