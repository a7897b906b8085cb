# Django's zh_Hans groups digits by four with no separator (1234567); Chinese HR and finance documents
# group by three with a comma (1,234,567, ¥1,234.50), as the portal's staff expect. Dates keep Django's
# zh_Hans formats (2026年11月3日).
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
