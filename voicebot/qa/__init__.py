"""Quality assurance over the call records: score card forms and their automatic rules (``forms.py``), and
reviewers' corrections turned into training examples for the flows (``export.py``)."""
