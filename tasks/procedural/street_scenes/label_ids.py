"""Cityscapes labelIds (cityscapesScripts) that the scene model paints."""

from __future__ import annotations

UNLABELED, EGO, STATIC, DYNAMIC, GROUND = 0, 1, 4, 5, 6
ROAD, SIDEWALK, PARKING, RAIL = 7, 8, 9, 10
BUILDING, WALL, FENCE = 11, 12, 13
POLE, TLIGHT, TSIGN = 17, 19, 20
VEG, TERRAIN, SKY = 21, 22, 23
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTO, BIKE = 24, 25, 26, 27, 28, 31, 32, 33
