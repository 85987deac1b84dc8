from flask import Blueprint

bp = Blueprint("cohorts", __name__, url_prefix="/facilitate")
