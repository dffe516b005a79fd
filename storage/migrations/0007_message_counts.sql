-- Messages each channel's messenger accepted, by local month: Zalo's plans allow a number of
-- outbound messages a month (3,000 on the free plan), and admins are warned before the end.
CREATE TABLE message_counts (
    channel TEXT NOT NULL,
    month   TEXT NOT NULL,               -- YYYY-MM, local time
    sent    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, month)
);
