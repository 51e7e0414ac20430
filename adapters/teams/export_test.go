package teams

// CardActivityForTest exposes the activity a card is sent in, for the
// connector tests.
func CardActivityForTest(card map[string]any) outActivity { return cardActivity(card, "") }
