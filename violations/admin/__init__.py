"""HR admin screens of the violations app; admin autodiscovery imports this package.

``records``: rules, violations, sanctions, appeals, evidence, company settings, the audit log.
``lexicon``: the keyword rules' words, patterns and link domains, with CSV import.
``deductions``: the monthly deduction rows and the months with their compute / close buttons.
``responsiveness``: the directive / notice settings (R01, R03) and the named group leaders.
"""

from . import deductions, lexicon, records, responsiveness  # noqa: F401  (each module registers its screens)
