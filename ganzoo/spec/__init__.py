"""Describing a run, as pure data: TrainConfig (run settings), RunSpec (the math, frozen) and resolve (the one
place a recipe's defaults apply). Nothing here builds a network."""
