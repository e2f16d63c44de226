"""The competition's class side: the leaderboard, its figure, the Kaggle split."""
