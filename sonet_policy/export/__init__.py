"""The rule book in other engines' formats: DMN 1.3 and GoRules JDM."""
